"""Realistic proposals for rules tests: a neutral base and named variations."""

import copy

BASE_PROPOSAL = {
    "reference": "t-base",
    "title": "Comparative study of medieval manuscripts",
    "abstract": "Palaeographic comparison of thirteenth-century Latin manuscripts held in Paris and Heidelberg.",
    "keywords": ["palaeography", "manuscripts"],
    "research_fields": ["6.1"],
    "partners": [{"name": "Sorbonne Université", "country": "FR", "type": "university"}],
    "funding": [{"source": "Deutsche Forschungsgemeinschaft (DFG)", "country": "DE", "kind": "grant"}],
    "duration_months": 24,
}


def proposal(**changes) -> dict:
    """The base proposal with top-level keys replaced."""
    out = copy.deepcopy(BASE_PROPOSAL)
    out.update(copy.deepcopy(changes))
    return out


ROBOTICS_WITH_HIT = proposal(
    title="Learning-based control of legged robots on rough terrain",
    research_fields=["2.2", "1.2"],
    technology_areas=["robotics", "ai"],
    partners=[{"name": "Harbin Institute of Technology", "country": "CN", "type": "university"}],
)
HEALTH_WITH_HOSPITAL = proposal(
    title="Paediatric asthma cohort: comparing inhaler adherence interventions",
    abstract="Each site analyses its own patients; only aggregated statistics are exchanged.",
    keywords=["asthma"],
    research_fields=["3.2"],
    partners=[{"name": "Beijing Children's Hospital", "country": "CN", "type": "hospital"}],
    data_transfers=[{"direction": "both", "country": "CN", "categories": ["anonymised"]}],
)
