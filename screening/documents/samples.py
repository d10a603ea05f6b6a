"""Realistic demo contexts for the letter templates (benchmark, tests, previews, demo data)."""

from datetime import date

RULE_SET = {"version": "2026.11.2", "hash": "9f2c4e1b7a3d5f60812e4c9b0d7a6f3e5c1b2a4d6e8f0a1c3b5d7e9f1a2c4e6b"}
LISTS = [
    {"name": "EU consolidated financial sanctions list", "version": "2026-11-24"},
    {"name": "US BIS Entity List", "version": "2026-11-20"},
    {"name": "US Consolidated Screening List", "version": "2026-11-25"},
    {"name": "Institutional partner watch list", "version": "v41"},
]
INSTITUTIONS = {
    "nordhafen": {
        "name": "Universität Nordhafen",
        "office": "Research Security Office",
        "address_lines": ["Hafenstraße 1", "20457 Nordhafen", "research-security@uni-nordhafen.example"],
        "logo": "logo-nordhafen.svg",
    },
    "suedtal": {
        "name": "Hochschule Südtal",
        "office": "Stabsstelle Forschungssicherheit",
        "address_lines": ["Talweg 12", "79098 Südtal"],
        "logo": "logo-suedtal.svg",
    },
}


def decision_context(*, decision: str = "approved_with_conditions", institution: str = "nordhafen") -> dict:
    """A two-page decision letter: 3 partners, 6 findings, 3 conditions."""
    return {
        "institution": dict(INSTITUTIONS[institution]),
        "reference": "RSC-2026-0142",
        "issued_on": date(2026, 11, 26),
        "researcher": {"name": "Dr. Jana Albers", "department": "Institute of Applied Photonics"},
        "project": {"title": "Ultrafast fibre lasers for precision micromachining of semiconductor wafers"},
        "partners": [
            {"name": "Shenzhen Institute of Optical Engineering", "country": "China"},
            {"name": "Photonics Research Centre Bangalore", "country": "India"},
            {"name": "Laboratoire d'optique appliquée de Lyon", "country": "France"},
        ],
        "decision": decision,
        "conditions": [
            "No transfer of pulse-shaping firmware or design files for amplifier stages to any partner; "
            "results are shared as published papers only.",
            "Visiting researchers from partner institutions work only in laboratory B2.14 and have no access "
            "to the controlled equipment register.",
            "The principal investigator reports any change of partners, funding or scope to the research "
            "security office before it takes effect.",
        ]
        if decision == "approved_with_conditions"
        else [],
        "reasoning": (
            "The project concerns ultrafast fibre lasers with pulse energies and repetition rates that are "
            "close to the thresholds of dual-use category 6A005. The committee considered that the planned "
            "work is fundamental research whose results are intended for publication, and that the "
            "controlled parameters are not reached by the prototypes described in the proposal.\n\n"
            "One partner has an affiliation that appears on a national watch list because of earlier "
            "cooperation with defence-related enterprises. The committee found no current listing on any "
            "sanctions or entity list and no indication of end use in a military programme. The "
            "remaining risk is addressed by limiting the transfer of technology to published results and "
            "by keeping partner staff away from controlled equipment.\n\n"
            "The other two partners raised only low-severity findings concerning name similarity with "
            "listed entities; the committee verified that they are different organisations."
        ),
        "flags": [
            {
                "title": "Technology close to dual-use category 6A005 (lasers)",
                "severity": "high",
                "sources": ["Regulation (EU) 2021/821 Annex I", "Rule T-LASER-01"],
            },
            {
                "title": "Partner affiliation on a national watch list",
                "severity": "high",
                "sources": ["Institutional partner watch list v41", "Rule P-WATCH-02"],
            },
            {
                "title": "Partner located in a country subject to an arms embargo",
                "severity": "medium",
                "sources": ["EU consolidated financial sanctions list", "Rule C-EMB-01"],
            },
            {
                "title": "Name similarity with a listed entity (score 0.86)",
                "severity": "low",
                "sources": ["US BIS Entity List", "Rule P-NAME-01"],
            },
            {
                "title": "Name similarity with a listed entity (score 0.81)",
                "severity": "low",
                "sources": ["US Consolidated Screening List", "Rule P-NAME-01"],
            },
            {
                "title": "Visiting researcher programme planned",
                "severity": "info",
                "sources": ["Proposal section 4", "Rule V-VISIT-01"],
            },
        ],
        "rule_set": dict(RULE_SET),
        "lists": [dict(item) for item in LISTS],
        "committee": {"name": "Research Security Committee", "chair": "Prof. Dr. Martin Kessler"},
        "verification_code": "7K4Q-M2XD-9FJH-3WPA",
        "verification_url": "https://screening.uni-nordhafen.example/verify/7K4QM2XD9FJH3WPA",
    }


def fast_track_context(*, institution: str = "suedtal") -> dict:
    """A one-page clearance letter."""
    return {
        "institution": dict(INSTITUTIONS[institution]),
        "reference": "RSC-2026-0157",
        "issued_on": date(2026, 11, 26),
        "researcher": {"name": "Prof. Dr. Lea Brandt", "department": "Department of Medieval History"},
        "project": {"title": "Digital edition of Hanseatic merchant letters"},
        "partners": [
            {"name": "University of Bergen", "country": "Norway"},
            {"name": "Tallinn University", "country": "Estonia"},
        ],
        "tier": "low",
        "rule_set": dict(RULE_SET),
        "lists": [dict(item) for item in LISTS],
        "verification_code": "2B8R-XW4K-PL7M-Q9TC",
        "verification_url": "https://screening.hs-suedtal.example/verify/2B8RXW4KPL7MQ9TC",
    }
