"""From a validated proposal to the facts that rule conditions and explanations read.

Facts are plain nested dicts and lists, so a rule author can name any of them by a dotted path
(``project.areas``, ``item.partner.name``, ``item.match.risk_level``). docs/rules.md lists them.
"""

from collections.abc import Mapping
from typing import Any

from rules.matching import PartnerMatch, PartnerMatcher
from rules.taxonomy import FORD_AREAS, is_welcome_field, keyword_hints

PERSONAL_CATEGORIES = frozenset({"personal", "sensitive_personal", "health", "human_genetic", "biological_samples"})
SENSITIVE_PERSONAL_CATEGORIES = frozenset({"sensitive_personal", "health", "human_genetic", "biological_samples"})


def project_facts(proposal: Mapping[str, Any], concern_countries: frozenset[str]) -> dict[str, Any]:
    fields = list(proposal["research_fields"])
    declared = set(proposal.get("technology_areas", ()))
    text = " ".join([proposal["title"], proposal.get("abstract", ""), *proposal.get("keywords", ())])
    keyword_areas = keyword_hints().find(text)
    partner_countries = sorted({p["country"] for p in proposal["partners"]})
    return {
        "fields": fields,
        "field_groups": sorted({code.split(".", 1)[0] for code in fields}),
        "welcome_only": all(is_welcome_field(code) for code in fields),
        "declared_areas": sorted(declared),
        "keyword_areas": keyword_areas,
        "keyword_phrases": sorted({w for words in keyword_areas.values() for w in words}) if keyword_areas else [],
        "undeclared_areas": sorted(keyword_areas.keys() - declared) if keyword_areas else [],
        "areas": sorted(declared.union(keyword_areas)),
        "field_areas": sorted({a for code in fields for a in FORD_AREAS.get(code, ())}),
        "partner_countries": partner_countries,
        "concern_countries": sorted(set(partner_countries) & concern_countries),
    }


def partner_facts(index: int, partner: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "index": index,
        "name": partner["name"],
        "name_local": partner.get("name_local"),
        "country": partner["country"],
        "type": partner.get("type"),
        "department": partner.get("department"),
    }


RISK_ORDER = ("low", "medium", "high", "very_high")
OVERLAP_ORDER = ("none", "sensitive", "overlap")
BAND_ORDER = ("info", "possible", "match")
UNIT_KINDS_TEXT = {
    "campus": ("a campus", "ein Campus"),
    "school": ("a school", "eine Fakultät"),
    "department": ("a department", "ein Fachbereich"),
    "institute": ("an institute", "ein Institut"),
    "laboratory": ("a laboratory", "ein Labor"),
    "numbered_institute": ("a numbered research institute", "ein nummeriertes Forschungsinstitut"),
    "hospital": ("a hospital", "ein Klinikum"),
    "predecessor": ("a former name or merged predecessor", "ein früherer Name oder eine eingegliederte Vorgängerin"),
    "other_name": ("another name", "ein anderer Name"),
}
METHOD_TEXT = {
    "exact": ("the official name", "den offiziellen Namen"),
    "alias": ("a name the list gives", "einen auf der Liste angegebenen Namen"),
    "native_script": ("the name in Chinese characters", "den Namen in chinesischen Schriftzeichen"),
    "normalised": (
        "the name, abbreviations and word order aside",
        "den Namen, von Abkürzungen und Wortfolge abgesehen",
    ),
    "sub_unit": ("a sub-unit of the listed organisation", "eine Untereinheit der gelisteten Einrichtung"),
    "acronym_city": ("the acronym with the organisation's city", "das Kürzel mit dem Ort der Einrichtung"),
    "transliteration": (
        "the Russian name in Latin letters",
        "den russischen Namen in lateinischer Umschrift",
    ),
    "pinyin": ("the name in pinyin", "den Namen in Pinyin"),
    "acronym_country": ("the acronym with the partner's country", "das Kürzel mit dem Land des Partners"),
    "numbered_institute": (
        "a numbered research institute of the listed group",
        "ein nummeriertes Forschungsinstitut des gelisteten Konzerns",
    ),
    "qualified": ("the name with a place or country added", "den Namen mit Orts- oder Landeszusatz"),
    "fuzzy": ("a spelling variant", "eine Schreibvariante"),
}


def match_facts(match: PartnerMatch, project_areas: frozenset[str], relevant_areas: frozenset[str]) -> dict[str, Any]:
    """One listing that matched, with how the partner's defence research relates to this project.

    ``project_areas`` are the project's sensitive technology areas, ``relevant_areas`` those with
    the areas its research fields imply. ``overlap`` is "overlap" when the project touches the
    entry's topics (or the entry has no known topics and the project is sensitive), "sensitive"
    when the project is sensitive in other areas, and "none" otherwise: the context that decides a
    listed partner's severity.
    """
    entry = match.entry
    overlap_areas = sorted(relevant_areas.intersection(entry.topics))
    if overlap_areas or (project_areas and not entry.topics):
        overlap = "overlap"
    elif project_areas:
        overlap = "sensitive"
    else:
        overlap = "none"
    return {
        "entry_id": entry.id,
        "name": entry.name,
        "matched_name": match.matched_name,
        "country": entry.country,
        "category": entry.category,
        "risk_level": entry.risk_level,
        "topics": list(entry.topics),
        "reason": entry.reason,
        "sources": list(entry.sources),
        "list": match.list_name,
        "list_version": match.list_version,
        "score": match.score,
        "band": match.band,
        "method": match.method,
        "unit": match.unit,
        "unit_kind": match.unit_kind,
        "parent": entry.parent,
        "overlap": overlap,
        "overlap_areas": overlap_areas,
    }


def _listing(m: Mapping[str, Any]) -> dict[str, Any]:
    """What a merged finding keeps of each listing, as evidence."""
    return {
        "list": m["list"],
        "list_version": m["list_version"],
        "name": m["name"],
        "entry_id": m["entry_id"],
        "matched_name": m["matched_name"],
        "method": m["method"],
        "score": m["score"],
        "band": m["band"],
        "risk_level": m["risk_level"],
        "category": m["category"],
        "unit": m["unit"],
        "unit_kind": m["unit_kind"],
        "sources": m["sources"],
    }


def merged_match(listings: list[dict[str, Any]]) -> dict[str, Any]:
    """One partner's listings (from :func:`match_facts`) as one finding: the most severe listing
    leads, every listing is evidence.

    The band is the surest one found; risk level, topics and overlap are the most severe over the
    listings in that band, so the flag is as severe as its most severe listing. The lead listing's
    dict becomes the finding: the dicts are made for this merge alone.
    """
    evidence = [_listing(m) for m in listings]
    if len(listings) == 1:  # the common case: nothing to choose or combine
        lead = merged = listings[0]
        merged["topics"] = sorted(set(lead["topics"]))
        merged["sources"] = list(dict.fromkeys(lead["sources"]))
        listed_on, list_count = f"{lead['list']} {lead['list_version']}: {lead['name']} ({lead['risk_level']})", 1
    else:
        band = max((item["band"] for item in listings), key=BAND_ORDER.index)
        in_band = [item for item in listings if item["band"] == band]
        lead = max(
            in_band, key=lambda m: (RISK_ORDER.index(m["risk_level"]), OVERLAP_ORDER.index(m["overlap"]), m["score"])
        )
        merged = dict(lead)
        merged["risk_level"] = max((m["risk_level"] for m in in_band), key=RISK_ORDER.index)
        merged["overlap"] = max((m["overlap"] for m in in_band), key=OVERLAP_ORDER.index)
        merged["topics"] = sorted({t for m in in_band for t in m["topics"]})
        merged["overlap_areas"] = sorted({a for m in in_band for a in m["overlap_areas"]})
        merged["sources"] = list(dict.fromkeys(s for m in listings for s in m["sources"]))
        listed_on = "; ".join(f"{m['list']} {m['list_version']}: {m['name']} ({m['risk_level']})" for m in in_band)
        list_count = len({m["list"] for m in in_band})
    merged["listings"] = evidence
    merged["listed_on"] = listed_on
    merged["list_count"] = list_count
    merged["how"] = dict(zip(("en", "de"), METHOD_TEXT.get(lead["method"], (lead["method"],) * 2), strict=True))
    merged["relation"] = _relation(lead)
    return merged


def _relation(lead: Mapping[str, Any]) -> dict[str, str]:
    """A sentence naming the sub-unit and its listed parent, or the parent of a listed institute."""
    if lead["unit"]:
        kind_en, kind_de = UNIT_KINDS_TEXT.get(lead["unit_kind"], ("a part", "ein Teil"))
        return {
            "en": f"{lead['unit']} is {kind_en} of {lead['name']}, which is listed.",
            "de": f"{lead['unit']} ist {kind_de} von {lead['name']}, die gelistet ist.",
        }
    if lead["parent"]:
        return {
            "en": f"{lead['name']} belongs to {lead['parent']} and is listed in its own right.",
            "de": f"{lead['name']} gehört zu {lead['parent']} und ist selbst gelistet.",
        }
    return {"en": "", "de": ""}


def grouped_matches(
    matches: list[PartnerMatch], project_areas: frozenset[str], relevant_areas: frozenset[str]
) -> dict[str, Any] | None:
    return merged_match([match_facts(m, project_areas, relevant_areas) for m in matches]) if matches else None


def funding_facts(index: int, funding: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "index": index,
        "source": funding["source"],
        "country": funding.get("country"),
        "kind": funding.get("kind"),
        "co_selected_by": list(funding.get("co_selected_by", ())),
        "co_selected_by_upper": sorted({body.strip().upper() for body in funding.get("co_selected_by", ())}),
    }


def transfer_facts(index: int, transfer: Mapping[str, Any]) -> dict[str, Any]:
    categories = set(transfer["categories"])
    direction = transfer["direction"]
    return {
        "index": index,
        "direction": direction,
        "outbound": direction in ("outbound", "both"),
        "inbound": direction in ("inbound", "both"),
        "country": transfer["country"],
        "categories": sorted(categories),
        "personal": bool(categories & PERSONAL_CATEGORIES),
        "sensitive_personal": bool(categories & SENSITIVE_PERSONAL_CATEGORIES),
        "data_subjects": transfer.get("data_subjects"),
        "description": transfer.get("description", ""),
    }


def export_facts(proposal: Mapping[str, Any]) -> dict[str, Any]:
    export = proposal.get("export_control", {})
    codes = sorted(set(export.get("dual_use_codes", ())))
    return {
        "dual_use_codes": codes,
        "dual_use_categories": sorted({code[0] for code in codes}),
        "military_end_use": bool(export.get("military_end_use", False)),
        "notes": export.get("notes", ""),
    }


def build_facts(
    proposal: Mapping[str, Any], matcher: PartnerMatcher, concern_countries: frozenset[str]
) -> dict[str, Any]:
    project = project_facts(proposal, concern_countries)
    project_areas = frozenset(project["areas"])
    relevant_areas = project_areas.union(project["field_areas"])
    partners = [partner_facts(i, p) for i, p in enumerate(proposal["partners"])]
    # One finding per partner (and per funder), however many lists name it.
    partner_matches = []
    for partner in partners:
        merged = grouped_matches(
            matcher.match(partner["name"], partner["country"], partner["name_local"]), project_areas, relevant_areas
        )
        if merged is not None:
            partner_matches.append({"partner": partner, "match": merged})
    funding = [funding_facts(i, f) for i, f in enumerate(proposal.get("funding", ()))]
    funder_matches = []
    for item in funding:
        merged = grouped_matches(matcher.match(item["source"], item["country"]), project_areas, relevant_areas)
        if merged is not None:
            funder_matches.append({"funding": item, "match": merged})
    project["listed_partner_count"] = len({m["partner"]["index"] for m in partner_matches})
    return {
        "proposal": proposal,
        "project": project,
        "partners": partners,
        "partner_matches": partner_matches,
        "funding": funding,
        "funder_matches": funder_matches,
        "data_transfers": [transfer_facts(i, t) for i, t in enumerate(proposal.get("data_transfers", ()))],
        "export_control": export_facts(proposal),
    }
