"""Write tests/data/collaborations_1400.csv: a synthetic international-office portfolio.

1,400 collaborations of German universities in the bulk-import template's format, mostly with
Chinese partners, some with Russian, Iranian, US, French, Japanese and other partners. Partners
are drawn from the shipped partner lists (listed institutions, sometimes under an alias or
abbreviation, sometimes with the Chinese name) and from tests/data/negative_institutions.csv
(institutions that are not listed). Funding includes the China Scholarship Council; some rows
carry data transfers, dual-use codes and an export-control answer.

Deterministic: the same seed and the same input files give the same bytes.

    .venv/bin/python bench/make_collaborations.py [--rows N] [--seed N] [--out PATH]
"""

import argparse
import csv
import datetime as dt
import functools
import random
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rules.lists import load_current_lists
from screening.portfolio.exports import to_csv
from screening.portfolio.importing import COLUMN_NAMES

ROOT = Path(__file__).resolve().parents[1]
SEED = 20261400
OUT = ROOT / "tests" / "data" / "collaborations_1400.csv"
NEGATIVE = ROOT / "tests" / "data" / "negative_institutions.csv"

HOMES = ["RWTH", "KIT", "TUM", "TUD", "FAU", "UHH", "LMU", "UFR", "TUB", "UDE", "UBT", "UKN"]

# (FORD codes, technology areas, title, keywords, typical data categories, dual-use candidates)
TOPICS = [
    (["1.5"], [], "Permafrost thaw and soil carbon release on the Tibetan Plateau",
     ["permafrost", "soil carbon", "remote sensing"], ["research_data", "geospatial"], []),
    (["1.5", "2.7"], [], "Sediment dynamics of the Yangtze estuary under dam regulation",
     ["sediment", "estuary", "hydrology"], ["research_data", "geospatial"], []),
    (["1.5"], ["space"], "Satellite gravimetry of groundwater depletion in the North China Plain",
     ["GRACE", "groundwater", "gravimetry"], ["geospatial"], []),
    (["1.5"], [], "Monsoon variability in lake sediment records of the Holocene",
     ["palaeoclimate", "monsoon", "lake sediments"], ["research_data"], []),
    (["1.6"], ["biotechnology"], "CRISPR screens for drought tolerance in rice",
     ["CRISPR", "rice", "drought"], ["research_data", "biological_samples"], []),
    (["1.6"], [], "Pollinator decline in fragmented subtropical forests",
     ["pollinators", "biodiversity", "forest fragmentation"], ["research_data"], []),
    (["1.6", "3.1"], ["biotechnology"], "Gut microbiome and metabolic disease in urban cohorts",
     ["microbiome", "metabolism", "cohort"], ["health", "biological_samples"], []),
    (["1.2"], ["ai"], "Federated learning for privacy-preserving medical image analysis",
     ["federated learning", "medical imaging", "privacy"], ["health", "source_code"], []),
    (["1.2"], ["ai", "big_data"], "Graph neural networks for traffic forecasting in megacities",
     ["graph neural networks", "traffic", "forecasting"], ["research_data", "source_code"], []),
    (["1.2"], ["cyber"], "Post-quantum cryptography for embedded devices",
     ["lattice cryptography", "embedded systems", "side channels"], ["source_code"], ["5A002"]),
    (["1.2"], ["ai", "surveillance"], "Person re-identification across camera networks",
     ["re-identification", "computer vision", "video analytics"], ["personal", "source_code"], []),
    (["1.2"], ["hpc"], "Scalable sparse solvers for exascale computing",
     ["sparse linear algebra", "HPC", "GPU"], ["source_code"], []),
    (["1.2", "6.2"], ["ai"], "Machine translation for low-resource Chinese dialects",
     ["machine translation", "dialects", "corpora"], ["research_data", "personal"], []),
    (["1.1"], [], "Random matrix theory and number-theoretic L-functions",
     ["random matrices", "L-functions"], [], []),
    (["1.1"], [], "Stochastic partial differential equations in fluid dynamics",
     ["SPDE", "turbulence"], [], []),
    (["1.3"], ["quantum"], "Superconducting qubits with long coherence times",
     ["qubits", "superconductivity", "coherence"], ["research_data"], []),
    (["1.3"], ["quantum", "sensing"], "Nitrogen-vacancy centres for quantum magnetometry",
     ["NV centres", "magnetometry", "diamond"], ["research_data"], []),
    (["1.3"], [], "Neutrino oscillation analysis at the Jiangmen observatory",
     ["neutrinos", "JUNO", "particle physics"], ["research_data"], []),
    (["1.3"], ["energy"], "Perovskite solar cells with improved long-term stability",
     ["perovskites", "photovoltaics", "degradation"], ["research_data"], []),
    (["1.3"], ["sensing"], "Terahertz imaging for non-destructive testing",
     ["terahertz", "imaging", "NDT"], ["research_data"], ["6A003"]),
    (["1.4"], [], "Heterogeneous catalysts for CO2 hydrogenation to methanol",
     ["catalysis", "CO2 utilisation", "methanol"], ["research_data"], []),
    (["1.4", "2.5"], ["energy", "advanced_materials"], "Solid-state electrolytes for lithium metal batteries",
     ["solid electrolytes", "lithium", "batteries"], ["research_data"], []),
    (["1.4"], [], "Metal-organic frameworks for water harvesting from air",
     ["MOF", "adsorption", "water harvesting"], ["research_data"], []),
    (["2.1"], [], "Seismic performance of timber-concrete hybrid buildings",
     ["earthquake engineering", "timber", "hybrid structures"], ["research_data"], []),
    (["2.1", "5.7"], [], "Sponge city concepts for urban flood resilience",
     ["urban drainage", "flood risk", "green infrastructure"], ["geospatial"], []),
    (["2.2"], ["semiconductors"], "Gallium nitride power transistors for electric vehicles",
     ["GaN", "power electronics", "e-mobility"], ["research_data"], ["3A001"]),
    (["2.2"], ["digital_infrastructure"], "Reconfigurable intelligent surfaces for 6G networks",
     ["6G", "RIS", "wireless"], ["research_data", "source_code"], []),
    (["2.2"], ["semiconductors"], "Extreme ultraviolet lithography resist chemistry",
     ["EUV", "lithography", "photoresist"], ["research_data"], ["3B001", "3C002"]),
    (["2.2"], ["sensing"], "Millimetre-wave radar for autonomous driving",
     ["radar", "automotive", "signal processing"], ["research_data", "source_code"], ["6A008"]),
    (["2.3"], ["manufacturing", "aerospace"], "Fatigue of additively manufactured titanium lattice structures",
     ["additive manufacturing", "titanium", "fatigue"], ["research_data"], ["1C002"]),
    (["2.3"], ["robotics"], "Learning-based control of legged robots on rough terrain",
     ["legged robots", "reinforcement learning", "control"], ["source_code"], []),
    (["2.3"], ["aerospace"], "Combustion instabilities in lean-burn aero engines",
     ["combustion", "gas turbines", "acoustics"], ["research_data", "export_controlled_technology"], ["9E003"]),
    (["2.3"], ["energy"], "Wind turbine blade erosion under offshore conditions",
     ["wind energy", "erosion", "composites"], ["research_data"], []),
    (["2.4"], ["energy"], "Green hydrogen from proton exchange membrane electrolysis",
     ["hydrogen", "electrolysis", "PEM"], ["research_data"], []),
    (["2.5"], ["advanced_materials"], "High-entropy alloys for high-temperature applications",
     ["high-entropy alloys", "creep", "microstructure"], ["research_data"], []),
    (["2.5"], ["advanced_materials", "aerospace"], "Ceramic matrix composites for hypersonic leading edges",
     ["CMC", "thermal protection", "hypersonics"], ["research_data", "export_controlled_technology"],
     ["1C007", "1C010"]),
    (["2.6"], ["human_machine"], "Non-invasive brain-computer interfaces for stroke rehabilitation",
     ["BCI", "EEG", "rehabilitation"], ["health", "personal"], []),
    (["2.6", "3.2"], ["ai"], "Deep learning for early detection of diabetic retinopathy",
     ["retina", "screening", "deep learning"], ["health"], []),
    (["2.7"], [], "Microplastics in river sediments of the Pearl River delta",
     ["microplastics", "pollution", "rivers"], ["research_data"], []),
    (["2.8"], ["biotechnology"], "Enzymatic degradation of PET waste",
     ["enzymes", "plastics recycling", "PET"], ["research_data", "biological_samples"], []),
    (["2.10"], ["advanced_materials"], "Two-dimensional materials for flexible electronics",
     ["2D materials", "graphene", "flexible electronics"], ["research_data"], []),
    (["2.11"], ["autonomous_systems"], "Cooperative drone swarms for precision agriculture",
     ["UAV", "swarms", "agriculture"], ["geospatial", "source_code"], ["9A012"]),
    (["3.1"], ["biotechnology"], "Antibiotic resistance genes in hospital wastewater",
     ["AMR", "wastewater", "metagenomics"], ["biological_samples", "human_genetic"], []),
    (["3.1"], [], "Single-cell atlas of the ageing human liver",
     ["single-cell", "ageing", "liver"], ["human_genetic", "sensitive_personal"], []),
    (["3.2"], [], "Multicentre trial of minimally invasive gastric cancer surgery",
     ["gastric cancer", "surgery", "clinical trial"], ["health", "personal"], []),
    (["3.2"], [], "Genetic risk factors of congenital heart disease",
     ["cardiology", "genetics", "paediatrics"], ["human_genetic", "health"], []),
    (["3.3"], [], "Air pollution exposure and childhood asthma",
     ["air quality", "asthma", "epidemiology"], ["health", "personal"], []),
    (["3.3", "5.4"], [], "Health literacy among elderly migrants",
     ["health literacy", "ageing", "migration"], ["personal"], []),
    (["3.4"], ["biotechnology"], "mRNA vaccine platforms for emerging viral diseases",
     ["mRNA", "vaccines", "virology"], ["biological_samples", "research_data"], []),
    (["4.1"], [], "Salt-tolerant wheat varieties for coastal farmland",
     ["wheat", "salinity", "breeding"], ["research_data", "biological_samples"], []),
    (["4.1", "1.5"], [], "Agroforestry and soil erosion on the Loess Plateau",
     ["agroforestry", "erosion", "land use"], ["geospatial"], []),
    (["4.2"], [], "Heat stress in dairy cattle",
     ["dairy", "heat stress", "animal welfare"], ["research_data"], []),
    (["4.3"], [], "Surveillance of African swine fever in smallholder farms",
     ["ASF", "veterinary epidemiology"], ["research_data", "biological_samples"], []),
    (["5.1"], [], "Bilingual reading acquisition in primary school children",
     ["bilingualism", "reading", "children"], ["personal"], []),
    (["5.2"], [], "Supply chain resilience of German-Chinese automotive suppliers",
     ["supply chains", "automotive", "trade"], ["research_data"], []),
    (["5.2"], [], "Green finance and corporate emissions disclosure",
     ["green bonds", "ESG", "disclosure"], ["research_data"], []),
    (["5.3"], [], "Vocational education transfer: dual training in Chinese provinces",
     ["vocational training", "education policy"], ["personal"], []),
    (["5.4"], [], "Intergenerational mobility in rural-urban migrant families",
     ["social mobility", "migration", "family"], ["personal"], []),
    (["5.5"], [], "Comparative data protection law: GDPR and PIPL",
     ["data protection", "PIPL", "GDPR"], [], []),
    (["5.6"], [], "Climate diplomacy of emerging economies",
     ["climate policy", "diplomacy"], [], []),
    (["5.7"], [], "Smart city governance in secondary Chinese cities",
     ["urban governance", "smart cities"], ["geospatial"], []),
    (["5.8"], [], "News framing of the energy transition on social media",
     ["framing", "social media", "energy transition"], ["research_data", "personal"], []),
    (["6.1"], [], "Silk Road trade networks in Tang dynasty archaeology",
     ["archaeology", "Silk Road", "trade"], ["research_data"], []),
    (["6.1"], [], "German missionaries in Shandong, 1880-1914",
     ["mission history", "archives", "Qingdao"], [], []),
    (["6.2"], [], "Classical Chinese poetry in German translation, 1900-1950",
     ["translation", "poetry", "reception"], [], []),
    (["6.2"], [], "Persian manuscripts in German library collections",
     ["manuscripts", "Persian", "digital edition"], ["research_data"], []),
    (["6.3"], [], "Confucian ethics and artificial intelligence",
     ["ethics", "Confucianism", "AI"], [], []),
    (["6.4"], [], "Reception of Western opera in early twentieth-century Shanghai",
     ["opera", "music history", "Shanghai"], [], []),
    (["6.5"], [], "Digital humanities methods for Russian avant-garde periodicals",
     ["digital humanities", "periodicals", "avant-garde"], ["research_data"], []),
]

TITLE_SUFFIXES = [
    "", "", "", "", "", " (phase II)", ": joint doctoral project", ": a Sino-German comparison",
    ": pilot study", " – research stay", ": summer school and exchange", ": data sharing agreement",
]
ABSTRACT_LEADS = [
    "Joint project with {partner} on {kw}.",
    "Doctoral exchange with {partner}; work packages on {kw}.",
    "Collaboration with {partner} combining field work and modelling of {kw}.",
    "Research stay at {partner} to study {kw}.",
    "Co-supervised thesis with {partner} on {kw}.",
]
ABSTRACT_TAILS = [
    "", "", "Results will be published open access.", "Includes two workshops per year.",
    "Shared instruments are used at both sites.", "Visiting researchers spend up to six months abroad.",
]
DEPARTMENTS = {
    "1.1": ["School of Mathematical Sciences"], "1.2": ["School of Computer Science", "College of Intelligence"],
    "1.3": ["School of Physics", "Department of Modern Physics"], "1.4": ["College of Chemistry"],
    "1.5": ["School of Earth Sciences", "College of Geography"], "1.6": ["College of Life Sciences"],
    "2.1": ["College of Civil Engineering"], "2.2": ["School of Electronic Engineering", "School of Microelectronics"],
    "2.3": ["School of Mechanical Engineering", "School of Astronautics"], "2.4": ["School of Chemical Engineering"],
    "2.5": ["School of Materials Science and Engineering"], "2.6": ["School of Biomedical Engineering"],
    "2.7": ["School of Environment"], "2.8": ["School of Biological Engineering"],
    "2.10": ["Institute of Nanoscience"], "2.11": ["School of Automation"],
    "3.1": ["School of Basic Medical Sciences"], "3.2": ["Department of General Surgery", "Department of Cardiology"],
    "3.3": ["School of Public Health"], "3.4": ["Institute of Pathogen Biology"],
    "4.1": ["College of Agronomy"], "4.2": ["College of Animal Science"], "4.3": ["College of Veterinary Medicine"],
    "5.1": ["Department of Psychology"], "5.2": ["School of Economics"], "5.3": ["Faculty of Education"],
    "5.4": ["School of Sociology"], "5.5": ["Law School"], "5.6": ["School of International Relations"],
    "5.7": ["School of Public Administration"], "5.8": ["School of Journalism and Communication"],
    "6.1": ["Department of History", "School of Archaeology"], "6.2": ["School of Foreign Languages"],
    "6.3": ["Department of Philosophy"], "6.4": ["Department of Musicology"], "6.5": ["School of Humanities"],
}
GERMAN_COPARTNERS = [
    ("Fraunhofer Institute for Laser Technology", "research_institute"),
    ("Helmholtz-Zentrum Hereon", "research_institute"),
    ("Max Planck Institute for Solid State Research", "research_institute"),
    ("Leibniz Institute for Tropospheric Research", "research_institute"),
    ("Charité – Universitätsmedizin Berlin", "hospital"),
    ("Universität Stuttgart", "university"),
    ("Technische Universität Dresden", "university"),
    ("German Aerospace Center (DLR)", "research_institute"),
]
COMPANIES = ["Huawei Technologies Co., Ltd.", "BYD Company Limited", "Contemporary Amperex Technology Co., Ltd."]
FUNDERS = {
    "CN": [("China Scholarship Council", "CN", "scholarship", 40), ("National Natural Science Foundation of China",
           "CN", "grant", 12), ("Huawei Technologies Co., Ltd.", "CN", "industry", 2)],
    "RU": [("Russian Science Foundation", "RU", "grant", 10)],
    "IR": [("Iran National Science Foundation", "IR", "grant", 6)],
    "US": [("National Science Foundation", "US", "grant", 8)],
    "FR": [("Agence nationale de la recherche", "FR", "grant", 10)],
    "JP": [("Japan Society for the Promotion of Science", "JP", "grant", 12)],
    "": [("Deutsche Forschungsgemeinschaft (DFG)", "DE", "grant", 28), ("Federal Ministry of Research (BMBF)",
          "DE", "government", 10), ("Horizon Europe", "", "grant", 8), ("DAAD", "DE", "scholarship", 10),
         ("Volkswagen Foundation", "DE", "grant", 3), ("Internal research fund", "DE", "internal", 6)],
}
MAIN_COUNTRIES = [("CN", 62), ("RU", 8), ("IR", 5), ("US", 9), ("FR", 6), ("JP", 6), ("other", 4)]
OTHER_COUNTRIES = ["KR", "IN", "BR", "GB", "CH", "IL", "SG"]
# Listed institutions German universities work with most often get drawn more often.
PROMINENT = {
    "Tsinghua University", "Zhejiang University", "Shanghai Jiao Tong University", "Tongji University",
    "Harbin Institute of Technology", "Beihang University", "Beijing Institute of Technology",
    "Northwestern Polytechnical University", "Huazhong University of Science and Technology",
    "Xi'an Jiaotong University", "Wuhan University", "Sichuan University", "Tianjin University",
    "Southeast University", "Fudan University", "Peking University", "Nanjing University", "Sun Yat-sen University",
    "University of Science and Technology of China", "Moscow Institute of Physics and Technology",
    "Sharif University of Technology",
}
CJK = re.compile("[\u4e00-\u9fff]")
ABBREVIATION = re.compile(r"^[A-Z][A-Z&\-]{1,7}$")


def pick(rng: random.Random, weighted):
    items, weights = zip(*weighted, strict=True)
    return rng.choices(items, weights)[0]


def load_partners():
    """Listed partners per country (with their alternative names) and unlisted ones per country."""
    listed: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
    seen = set()
    for partner_list in load_current_lists():
        for entry in partner_list.entries:
            # Universities and institutes are research partners; the 1260H list's companies seldom are.
            if entry.name in seen or entry.category == "chinese_military_company":
                continue
            seen.add(entry.name)
            listed.setdefault(entry.country, []).append((entry.name, tuple(entry.aliases)))
    unlisted: dict[str, list[str]] = {}
    with NEGATIVE.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            unlisted.setdefault(row["country"], []).append(row["name"])
    return listed, unlisted


AFFINITY = {
    "military": re.compile(r"Army|Navy|Naval|Air Force|Rocket|Police|\bPAP\b|CAPF|Military|Defen[cs]e|Armed|NBC|"
                           r"Command|Submarine|Artillery|Flight|NCO|Sergeant|Coast Guard|Scientific (Research|Center)"),
    "company": re.compile(r"Corporation|Group|Industr|Co\., Ltd|Company|CATL"),
    "medical": re.compile(r"Medic|Hospital|Health|Pharmac|Clinic|Cancer|Pasteur|Sechenov|Pirogov|Pavlov|Disease|"
                          r"Drug|Salk|Broad Institute|Jackson Lab|Scripps|Cold Spring|Royan|Inserm|santé"),
    "humanities": re.compile(r"Normal|Foreign|Language|Linguistic|International Studies|\bArts?\b|Music|Conservatory|"
                             r"Film|Drama|Theatre|Ballet|Humanities|Pedagog|Sport|Fashion|Fine Arts|Collège|Sophia"),
    "social": re.compile(r"Finance|Economic|Business|Commerce|Law|Political|Social|Audit|Sciences Po|Minzu|"
                         r"International Relations|Hitotsubashi|Santa Fe"),
    "agriculture": re.compile(r"Agricultur|Forestry|Fisher|A&F|Agrarian|Ocean|Veterinary|Tropical|Water Resources|"
                              r"Hohai"),
    "engineering": re.compile(r"Technolog|Polytechnic|Engineering|Jiaotong|Aeronautics|Astronautics|Telecommunications|"
                              r"Electronic|\bTech\b|Dianzi|Hangkong|Ligong|Mining|Petroleum|Electric Power|"
                              r"Architecture|Physics|Computing|Supercomput|Quantum|Microsystem|Aerospace|Aerodynamics|"
                              r"Nuclear|Centrale|polytechnique|Tiedao|Sharif|Scientific Research"),
}
PREFERRED = {
    "1": {"engineering", "generic", "agriculture"},
    "2": {"engineering", "generic", "military", "company"},
    "3": {"medical"},
    "4": {"agriculture", "generic"},
    "5": {"social", "humanities", "generic"},
    "6": {"humanities", "generic"},
}


@functools.cache
def affinities(name: str) -> frozenset[str]:
    found = frozenset(key for key, pattern in AFFINITY.items() if pattern.search(name))
    return found or frozenset({"generic"})


def partner_type(name: str) -> str:
    found = affinities(name)
    lowered = name.lower()
    if "military" in found and "police" not in lowered:
        return "military"
    if "company" in found:
        return "company"
    if "hospital" in lowered or "clinic" in lowered:
        return "hospital"
    if "universit" in lowered or "college" in lowered or "institute of technology" in lowered or "école" in lowered:
        return "university"
    if any(w in lowered for w in ("institut", "academy", "center", "centre", "laborator", "riken", "organization",
                                  "foundation", "scripps", "cold spring")):
        return "research_institute"
    return "university"


def choose(rng: random.Random, names: list, field_group: str, key=lambda item: item):
    """A name that suits the field most of the time (medical schools for medicine, and so on)."""
    suited = [item for item in names if affinities(key(item)) & PREFERRED[field_group]]
    return rng.choice(suited if suited and rng.random() < 0.95 else names)


def make_partner(rng, country, field, listed, unlisted) -> dict:
    field_group = field.split(".")[0]
    local = ""
    if country == "CN" and field_group in ("1", "2") and rng.random() < 0.03:
        name, kind = rng.choice(COMPANIES), "company"
    else:
        listed_share = {"CN": 0.33, "RU": 0.25, "IR": 0.3}.get(country, 0.0)
        suited = [item for item in listed.get(country, ()) if affinities(item[0]) & PREFERRED[field_group]]
        if suited and rng.random() < listed_share:
            name, aliases = rng.choices(suited, [8 if item[0] in PROMINENT else 1 for item in suited])[0]
            kind = partner_type(name)
            native = [a for a in aliases if CJK.search(a)]
            short = [a for a in aliases if ABBREVIATION.match(a)]
            roll = rng.random()
            if native and roll < 0.35:
                local = native[0]
            if short and roll > 0.85:
                name = short[0]  # researchers often write the abbreviation
            elif native and 0.8 < roll <= 0.85:
                name = native[0]
        else:
            name = choose(rng, unlisted[country], field_group)
            kind = partner_type(name)
    partner = {"name": name, "country": country}
    if local:
        partner["name_local"] = local
    if rng.random() < 0.85:
        partner["type"] = kind
    if rng.random() < 0.45 and kind in ("university", "hospital"):
        partner["department"] = rng.choice(DEPARTMENTS[field])
    return partner


def make_row(number: int, rng: random.Random, listed, unlisted) -> dict:
    fields, areas, title, keywords, categories, dual_use = rng.choice(TOPICS)
    main = pick(rng, MAIN_COUNTRIES)
    if main == "other":
        main = rng.choice(OTHER_COUNTRIES)
    partners = [make_partner(rng, main, fields[0], listed, unlisted)]
    for _ in range(pick(rng, [(0, 65), (1, 25), (2, 8), (3, 2)])):
        roll = rng.random()
        if roll < 0.35:
            name, kind = rng.choice(GERMAN_COPARTNERS)
            partners.append({"name": name, "country": "DE", "type": kind})
        else:
            country = main if roll < 0.75 else pick(rng, MAIN_COUNTRIES[:-1])
            partners.append(make_partner(rng, country, fields[0], listed, unlisted))
    home = rng.choice(HOMES)
    start = dt.date(2023, 1, 1) + dt.timedelta(days=rng.randrange(0, 5 * 365))
    if rng.random() < 0.7:
        start = start.replace(day=1)
    row: dict[str, object] = {
        "reference": f"{home}-{start.year}-{number:04d}",
        "title": title + rng.choice(TITLE_SUFFIXES),
        "research_fields": ";".join(fields + ([rng.choice(["1.2", "2.11", "5.9"])] if rng.random() < 0.1 else [])),
    }
    if rng.random() < 0.8:
        lead = rng.choice(ABSTRACT_LEADS).format(partner=partners[0]["name"], kw=" and ".join(keywords[:2]))
        row["abstract"] = (lead + " " + rng.choice(ABSTRACT_TAILS)).strip()
    if rng.random() < 0.7:
        row["keywords"] = ";".join(rng.sample(keywords, rng.randint(1, len(keywords))))
    if areas and rng.random() < 0.6:
        row["technology_areas"] = ";".join(areas)
    for index, partner in enumerate(partners, start=1):
        for key, value in partner.items():
            row[f"partner_{index}_{key}"] = value

    funders = list(FUNDERS[""])
    if main in FUNDERS:
        funders += FUNDERS[main]
    chosen = []
    for _ in range(pick(rng, [(0, 25), (1, 55), (2, 20)])):
        source, country, kind, _weight = pick(rng, [(f, f[3]) for f in funders])
        if source not in [c[0] for c in chosen]:
            chosen.append((source, country, kind))
    for index, (source, country, kind) in enumerate(chosen, start=1):
        row[f"funding_{index}_source"] = source
        if country:
            row[f"funding_{index}_country"] = country
        row[f"funding_{index}_kind"] = kind
        if source == "China Scholarship Council" and rng.random() < 0.3:
            row[f"funding_{index}_co_selected_by"] = "DAAD"

    if categories and rng.random() < 0.35:
        transfers = 1 if rng.random() < 0.85 else 2
        for index in range(1, transfers + 1):
            cats = rng.sample(categories, rng.randint(1, len(categories)))
            row[f"transfer_{index}_direction"] = pick(rng, [("outbound", 50), ("both", 35), ("inbound", 15)])
            row[f"transfer_{index}_country"] = main
            row[f"transfer_{index}_categories"] = ";".join(cats)
            if any(c in ("personal", "sensitive_personal", "health", "human_genetic") for c in cats):
                row[f"transfer_{index}_data_subjects"] = rng.choice([40, 120, 300, 850, 2000, 12000])
            if rng.random() < 0.3:
                row[f"transfer_{index}_description"] = "Exchange of " + " and ".join(keywords[:2]) + " data."
    if dual_use and rng.random() < 0.4:
        row["dual_use_codes"] = ";".join(rng.sample(dual_use, rng.randint(1, len(dual_use))))
    roll = rng.random()
    if roll < 0.004:
        row["military_end_use"] = "yes"
    elif roll < 0.4:
        row["military_end_use"] = rng.choice(["no", "no", "nein"])
    if rng.random() < 0.9:
        row["start_date"] = start.isoformat()
    if rng.random() < 0.85:
        row["duration_months"] = pick(rng, [(6, 8), (12, 20), (18, 5), (24, 20), (36, 30), (48, 10), (60, 7)])
    return row


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1400)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    listed, unlisted = load_partners()
    rows = [make_row(number, rng, listed, unlisted) for number in range(1, args.rows + 1)]
    data = to_csv(COLUMN_NAMES, ([row.get(name, "") for name in COLUMN_NAMES] for row in rows))
    args.out.write_bytes(data)
    print(f"wrote {len(rows)} rows, {len(data):,} bytes to {args.out}")


if __name__ == "__main__":
    main()
