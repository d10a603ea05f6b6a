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
    declared = sorted(set(proposal.get("technology_areas", ())))
    text = " ".join([proposal["title"], proposal.get("abstract", ""), *proposal.get("keywords", ())])
    keyword_areas = keyword_hints().find(text)
    areas = sorted(set(declared) | set(keyword_areas))
    partner_countries = sorted({p["country"] for p in proposal["partners"]})
    return {
        "fields": fields,
        "field_groups": sorted({code.split(".")[0] for code in fields}),
        "welcome_only": all(is_welcome_field(code) for code in fields),
        "declared_areas": declared,
        "keyword_areas": keyword_areas,
        "keyword_phrases": sorted({w for words in keyword_areas.values() for w in words}),
        "undeclared_areas": sorted(set(keyword_areas) - set(declared)),
        "areas": areas,
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


def match_facts(match: PartnerMatch, project: Mapping[str, Any]) -> dict[str, Any]:
    """A list match, with how the partner's defence research relates to this project.

    ``overlap`` is "overlap" when the project touches the entry's topics (or the entry has no
    known topics and the project is sensitive), "sensitive" when the project is sensitive in
    other areas, and "none" otherwise: the context that decides a listed partner's severity.
    """
    entry = match.entry
    project_areas = set(project["areas"])
    overlap_areas = sorted(set(entry.topics) & (project_areas | set(project["field_areas"])))
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
        "overlap": overlap,
        "overlap_areas": overlap_areas,
    }


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
    partners = [partner_facts(i, p) for i, p in enumerate(proposal["partners"])]
    partner_matches = []
    for partner in partners:
        for match in matcher.match(partner["name"], partner["country"], partner["name_local"]):
            partner_matches.append({"partner": partner, "match": match_facts(match, project)})
    funding = [funding_facts(i, f) for i, f in enumerate(proposal.get("funding", ()))]
    funder_matches = []
    for item in funding:
        for match in matcher.match(item["source"], item["country"]):
            funder_matches.append({"funding": item, "match": match_facts(match, project)})
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

