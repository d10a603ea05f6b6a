"""PDFs of the portfolio: the dashboard report and the screening certificate (``render_pdf``)."""

from datetime import date

from flask_babel import force_locale
from sqlmodel import Session

from screening.accounts.models import Institution
from screening.core.database import utcnow
from screening.core.engine import ford_fields
from screening.core.i18n import STATUS_LABELS, TIER_LABELS
from screening.documents.render import render_pdf
from screening.portfolio import aggregates, index
from screening.proposals.models import Proposal

TEXT = {
    "en": {"report": "Portfolio report", "generated": "Generated on", "total": "Proposals (without drafts)",
           "suppressed": "Counts from 1 to 4 are shown as <5.", "decisions": "Decisions",
           "conditions": "Conditions imposed", "durations": "Time from submission to decision (days)",
           "committee": "Committee", "count": "Count", "median": "Median", "p90": "90th percentile",
           "outcome": "Outcome", "condition": "Condition", "none": "None yet.",
           "certificate": "Screening certificate", "proposal": "Proposal", "screened_on": "Screened on",
           "result": "Result", "tier": "Risk tier", "lists": "Screened against these list versions",
           "ruleset": "Rule set", "flags": "Findings", "severity": "Severity", "finding": "Finding",
           "statement": "This proposal was screened on {date} against the list versions below; the result was {tier}.",
           "reference": "Reference", "no_flags": "No findings."},
    "de": {"report": "Portfolio-Bericht", "generated": "Erstellt am", "total": "Anträge (ohne Entwürfe)",
           "suppressed": "Anzahlen von 1 bis 4 werden als <5 angezeigt.", "decisions": "Entscheidungen",
           "conditions": "Auflagen", "durations": "Zeit von der Einreichung bis zur Entscheidung (Tage)",
           "committee": "Kommission", "count": "Anzahl", "median": "Median", "p90": "90. Perzentil",
           "outcome": "Ergebnis", "condition": "Auflage", "none": "Noch keine.",
           "certificate": "Prüfbescheinigung", "proposal": "Antrag", "screened_on": "Geprüft am",
           "result": "Ergebnis", "tier": "Risikostufe", "lists": "Geprüft gegen diese Listenversionen",
           "ruleset": "Regelwerk", "flags": "Befunde", "severity": "Schwere", "finding": "Befund",
           "statement": "Dieser Antrag wurde am {date} gegen die unten genannten Listenversionen geprüft; "
                        "das Ergebnis war {tier}.",
           "reference": "Referenz", "no_flags": "Keine Befunde."},
}


def chart_labels(language: str) -> dict:
    with force_locale(language):
        return {"status": {k: str(v) for k, v in STATUS_LABELS.items()},
                "tier": {k: str(v) for k, v in TIER_LABELS.items()},
                "field": ford_fields()}


def render_dashboard_pdf(session: Session, institution: Institution, *, suppress: bool, language: str):
    language = language if language in TEXT else "en"
    data = aggregates.dashboard_for(session, institution.id)
    svgs = aggregates.chart_svgs(data, suppress, chart_labels(language))
    s = lambda n: aggregates.suppressed(int(n), suppress)  # noqa: E731
    context = {
        "text": TEXT[language],
        "institution": institution.name,
        "generated": date.today(),
        "suppress": suppress,
        "total": s(data["total"]),
        "charts": [svgs[k] for k in ("country", "tier", "status", "field", "listed", "ageing")],
        "decisions": [[o, s(n)] for o, n in data["decisions"]],
        "conditions": [[c, s(n)] for c, n in data["conditions"]],
        "durations": [[name, s(n), f"{med:.0f}", f"{p90:.0f}"] for name, n, med, p90 in data["durations"]
                      if not suppress or n >= 5],
    }
    return render_pdf("portfolio_report.html", context, language=language,
                      title=f"{TEXT[language]['report']} – {institution.name}"[:300], author=institution.name)


def render_certificate(session: Session, proposal: Proposal, language: str = "en"):
    language = language if language in TEXT else "en"
    institution = session.get(Institution, proposal.institution_id)
    row = index.current_screening(session, proposal)
    if row is None:
        return None
    labels = chart_labels(language)
    context = {
        "text": TEXT[language],
        "institution": institution.name,
        "reference": f"P-{proposal.id}",
        "title": proposal.title,
        "screened_on": row.screened_at,
        "tier": labels["tier"].get(row.tier, row.tier),
        "tier_key": row.tier,
        "version": row.version_number,
        "lists": [[str(x.get("name")), str(x.get("version")), int(x.get("entries") or 0)] for x in row.lists
                  if x.get("name") != "ruleset"],
        "ruleset": f"{row.ruleset_version} ({(row.ruleset_hash or '')[:12]})",
        "flags": [[labels["tier"].get(f.get("severity"), str(f.get("severity"))), str(f.get("title") or "")]
                  for f in row.flags[:100]],
        "issued_on": utcnow(),
    }
    return render_pdf("screening_certificate.html", context, language=language,
                      title=f"{TEXT[language]['certificate']} P-{proposal.id}", author=institution.name)
