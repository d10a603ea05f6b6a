"""Demo data: two institutions, a user for every role, ~30 proposals screened by the real engine.

Idempotent: when the demo institutions exist, nothing is added.
"""

import uuid

from sqlmodel import Session, select

from screening.accounts import service as accounts
from screening.accounts.models import ROLES, Institution
from screening.core.engine import get_screener
from screening.proposals import service as svc
from screening.review import cases, decisions, deliberation, routing
from screening.review.models import Committee, CommitteeMember, RoutingRule

DEMO_PASSWORD = "screening-demo"  # noqa: S105 - printed on purpose for the demo installation
INSTITUTIONS = [("nordhafen", "Universität Nordhafen"), ("rheinau", "Technische Hochschule Rheinau")]
# The first institution's administrator also runs the demo installation (/admin/installation/).
INSTALLATION_ADMIN = f"institution-admin@{INSTITUTIONS[0][0]}.example"


def _p(title, fields, partners, *, tech=None, funding=None, transfers=None, export=None, abstract="",
       months=24, keywords=None):
    proposal = {"title": title, "research_fields": fields,
                "partners": [dict(zip(("name", "country", "type"), p, strict=False)) if isinstance(p, tuple)
                             else p for p in partners],
                "duration_months": months}
    if abstract:
        proposal["abstract"] = abstract
    if keywords:
        proposal["keywords"] = keywords
    if tech:
        proposal["technology_areas"] = tech
    if funding:
        proposal["funding"] = funding
    if transfers:
        proposal["data_transfers"] = transfers
    if export:
        proposal["export_control"] = export
    return proposal


CASES = [
    _p("Learning-based control of legged robots on rough terrain", ["2.2", "1.2"],
       [("Harbin Institute of Technology", "CN", "university")], tech=["robotics", "ai"],
       abstract="Reinforcement-learning controllers for quadruped robots with shared hardware experiments.",
       keywords=["legged robots", "reinforcement learning"]),
    _p("High-temperature ceramic matrix composites", ["2.5"],
       [{"name": "Beihang University", "name_local": "北京航空航天大学", "country": "CN",
         "type": "university", "department": "School of Materials Science and Engineering"}],
       tech=["advanced_materials", "aerospace"], abstract="Oxidation behaviour of SiC/SiC composites."),
    _p("Doctoral project on catalytic CO2 reduction (CSC scholarship)", ["1.4"],
       [("Dalian University of Technology", "CN", "university")],
       funding=[{"source": "China Scholarship Council", "country": "CN", "kind": "scholarship"}],
       abstract="A doctoral candidate funded by a CSC scholarship joins the catalysis group for four years.",
       months=48),
    _p("Polygenic risk of type 2 diabetes in East Asian cohorts", ["3.1", "3.4"],
       [("Shanghai Jiao Tong University School of Medicine", "CN", "university")],
       transfers=[{"direction": "inbound", "country": "CN", "categories": ["health", "human_genetic"],
                   "data_subjects": 12000, "description": "Genotype and clinical data of cohort members."}]),
    _p("Explainable machine learning for legal texts", ["1.2", "5.5"],
       [("Sorbonne Université", "FR", "university")], tech=["ai"],
       abstract="Interpretable models for court decisions in French and German."),
    _p("Ultrafast spectroscopy of two-dimensional magnets", ["1.3"],
       [("Moscow Institute of Physics and Technology", "RU", "university")],
       abstract="Pump-probe experiments on layered magnetic materials."),
    _p("Robust control of power converters", ["2.2"],
       [("Sharif University of Technology", "IR", "university")], tech=["energy"]),
    _p("Asthma in school children: a multi-centre observational study", ["3.2"],
       [("Erasmus MC", "NL", "hospital")],
       transfers=[{"direction": "outbound", "country": "NL", "categories": ["health", "personal"],
                   "data_subjects": 800, "description": "Pseudonymised spirometry and questionnaires."}]),
    _p("Regional climate projections for the Yangtze basin", ["1.5"],
       [("Tsinghua University", "CN", "university")], tech=["hpc"],
       abstract="Downscaling of CMIP6 projections; shared model code and output."),
    _p("Neural circuits of spatial memory", ["1.6", "3.1"],
       [("Harvard University", "US", "university")]),
    _p("Parallel solvers for exascale fluid dynamics", ["1.1", "1.2"],
       [("National University of Defense Technology", "CN", "university")], tech=["hpc"]),
    _p("Superconducting qubit readout", ["1.3"], [("ETH Zürich", "CH", "university")], tech=["quantum"]),
    _p("Wide-bandgap power transistors", ["2.2", "2.5"], [("Zhejiang University", "CN", "university")],
       tech=["semiconductors"]),
    _p("Seismic hazard of subduction zones", ["1.5"], [("The University of Tokyo", "JP", "university")]),
    _p("6G channel measurements in urban environments", ["2.2"],
       [("Huawei Technologies", "CN", "company")], tech=["digital_infrastructure"],
       funding=[{"source": "Huawei Technologies", "country": "CN", "kind": "industry"}]),
    _p("Autonomous swarm navigation for small UAVs", ["2.3", "1.2"],
       [("Northwestern Polytechnical University", "CN", "university")],
       tech=["autonomous_systems", "ai"]),
    _p("Solid-state battery electrolytes", ["1.4", "2.5"],
       [("Korea Advanced Institute of Science and Technology", "KR", "university")], tech=["energy"]),
    _p("Tuberculosis transmission in township clinics", ["3.3"],
       [("University of Cape Town", "ZA", "university")],
       transfers=[{"direction": "outbound", "country": "ZA", "categories": ["health"],
                   "data_subjects": 3000}]),
    _p("Hydrogen storage in metal hydrides", ["1.4"],
       [("Skolkovo Institute of Science and Technology", "RU", "university")], tech=["energy"]),
    _p("Persian manuscripts of the Safavid period", ["6.1", "6.2"],
       [("University of Tehran", "IR", "university")], months=12),
    _p("Thin-film photovoltaics", ["2.5"], [("Indian Institute of Science", "IN", "university")],
       tech=["energy", "advanced_materials"]),
    _p("Aeroelastic flutter of composite wings", ["2.3"],
       [("Nanjing University of Aeronautics and Astronautics", "CN", "university")], tech=["aerospace"]),
    _p("Soil carbon under no-till farming", ["4.1"], [("Universidade de São Paulo", "BR", "university")]),
    _p("Attitudes to internal migration: a household survey", ["5.4"],
       [("Peking University", "CN", "university")],
       transfers=[{"direction": "inbound", "country": "CN", "categories": ["personal"],
                   "data_subjects": 5000}]),
    _p("Radiation-hardened analogue-to-digital converters", ["2.2"],
       [("Tower Semiconductor", "IL", "company")], tech=["semiconductors", "space"],
       export={"dual_use_codes": ["3A001"], "notes": "ADC specifications may fall under 3A001.a."}),
    _p("Resilient distribution grids after attacks on infrastructure", ["2.2"],
       [("Igor Sikorsky Kyiv Polytechnic Institute", "UA", "university")], tech=["energy"]),
    _p("Genomic surveillance of antimicrobial resistance", ["3.1"],
       [("Fudan University", "CN", "university")], tech=["biotechnology"],
       transfers=[{"direction": "outbound", "country": "CN",
                   "categories": ["human_genetic", "biological_samples"], "data_subjects": 400}]),
    _p("Roman pottery trade in the Rhine valley", ["6.1"], [("University of Oxford", "GB", "university")]),
    _p("Laser physics of ultrashort pulses", ["1.3"], [("Belarusian State University", "BY", "university")]),
    _p("Coral reef resilience to heat waves", ["1.6"], [("The University of Melbourne", "AU", "university")]),
]
DRAFT_INDEXES = {27, 29}
WITHDRAWN_INDEXES = {22}


def load_demo(session: Session) -> tuple[dict, bool]:
    logins = {"password": DEMO_PASSWORD, "institutions": {}}
    existing = session.exec(select(Institution).where(Institution.slug == INSTITUTIONS[0][0])).first()
    for slug, name in INSTITUTIONS:
        logins["institutions"][f"{name} ({slug})"] = [
            (role, f"{role.replace('_', '-')}@{slug}.example") for role in ROLES
        ] + [("researcher", f"researcher2@{slug}.example")]
    logins["installation_admin"] = INSTALLATION_ADMIN
    if existing is not None:
        return logins, False

    screener = get_screener()
    researchers = []
    staff: dict[int, dict] = {}
    for slug, name in INSTITUTIONS:
        inst = accounts.create_institution(session, None, slug, name)
        users = {}
        for role in ROLES:
            email = f"{role.replace('_', '-')}@{slug}.example"
            label = role.replace("_", " ").title()
            users[role] = accounts.create_user(session, None, inst, email, f"{label} ({name})",
                                               DEMO_PASSWORD, [role])
        second = accounts.create_user(session, None, inst, f"researcher2@{slug}.example",
                                      f"Second Researcher ({name})", DEMO_PASSWORD, ["researcher"])
        researchers.append((inst, [users["researcher"], second]))
        staff[inst.id] = users
        _committees(session, inst, users)

    accounts.set_installation_admin(session, INSTALLATION_ADMIN, grant=True)

    for index, case in enumerate(CASES):
        inst, people = researchers[index % 2]
        user = people[(index // 2) % 2]
        actor = accounts.Actor(user=user, institution_id=inst.id, roles=frozenset({"researcher"}))
        proposal = svc.save_draft(session, actor, case, creation_token=uuid.uuid4().hex)
        if index in DRAFT_INDEXES:
            continue
        svc.submit(session, actor, proposal, uuid.uuid4().hex, screener, language="en")
        if index in WITHDRAWN_INDEXES:
            svc.withdraw(session, actor, proposal)
        elif index in REVIEW_STEPS:
            _deliberate(session, staff[inst.id], actor, proposal, REVIEW_STEPS[index], screener)
    session.commit()
    return logins, True


# Committee review demo: what happens to some of the cases above (index -> step).
REVIEW_STEPS = {0: "dispositions", 1: "information_requested", 2: "decided", 3: "comments", 5: "decided"}


def _committees(session: Session, inst: Institution, users: dict) -> None:
    """A central commission (the default) and an engineering faculty committee, routed by FORD field 2."""
    central = routing.ensure_setup(session, None, inst.id)
    central.name = "Central commission for research security"
    engineering = Committee(institution_id=inst.id, name="Faculty of Engineering committee", due_days=21)
    session.add_all([central, engineering])
    session.flush()
    for committee in (central, engineering):
        session.add(CommitteeMember(committee_id=committee.id, user_id=users["committee_member"].id, role="member"))
        session.add(CommitteeMember(committee_id=committee.id, user_id=users["committee_chair"].id, role="chair"))
    session.add(RoutingRule(institution_id=inst.id, committee_id=engineering.id, kind="field_prefix", value="2"))
    session.add(RoutingRule(institution_id=inst.id, committee_id=engineering.id, kind="faculty",
                            value="Faculty of Engineering"))
    session.flush()


def _deliberate(session: Session, users: dict, researcher, proposal, step: str, screener) -> None:
    case = routing.case_for_proposal(session, proposal)
    if case is None or proposal.status != "in_review":
        return
    chair = accounts.Actor(users["committee_chair"], case.institution_id,
                           frozenset({"committee_chair"}))
    member = accounts.Actor(users["committee_member"], case.institution_id, frozenset({"committee_member"}))
    as_chair, as_member = cases.get_case(session, chair, case.id), cases.get_case(session, member, case.id)
    flags = cases.flags_of(cases.latest_version(session, proposal))
    if flags:
        deliberation.record_disposition(session, as_member, flags[0]["key"], "confirmed",
                                        "The listed institution is the partner named in the proposal.")
    deliberation.add_comment(session, as_member, "internal", "Check which laboratory the partner works in.")
    if step == "comments":
        deliberation.add_comment(session, as_chair, "message", "Thank you, the committee will discuss this in May.")
    if step == "information_requested":
        deliberation.request_information(session, as_chair, "Which department of the partner takes part, and will "
                                                        "any export-controlled equipment be shared?")
    if step == "decided":
        deliberation.cast_vote(session, as_member, "approve_with_conditions", "Acceptable with the usual conditions.")
        template = decisions.condition_templates(session, case.institution_id)[0]
        decisions.decide(session, as_chair, case.version, "approved_with_conditions",
                         "The collaboration may go ahead under the conditions below.", [template.id], [])
