"""Fixed wording of the letters in German and English, and localised dates.

Independent of Flask-Babel: the renderer runs in Celery workers without an application context.
Templates call ``t("key")`` or ``t("key", name=value)``; a missing key is an error, not a blank.
"""

from datetime import date, datetime

LANGUAGES = ("de", "en")

MONTHS = {
    "de": (
        "Januar",
        "Februar",
        "März",
        "April",
        "Mai",
        "Juni",
        "Juli",
        "August",
        "September",
        "Oktober",
        "November",
        "Dezember",
    ),
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
}

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "page_of": "Page {page} of {pages}",
        "reference": "Reference",
        "date": "Date",
        "to": "To",
        "subject_decision": "Decision on the export-control and research-security screening of your collaboration",
        "subject_fast_track": "Clearance of your collaboration",
        "salutation": "Dear {name},",
        "intro_decision": (
            "the research-security committee has reviewed the proposed collaboration described below. "
            "This letter records its decision."
        ),
        "intro_fast_track": (
            "the proposed collaboration described below has been screened automatically. No finding required "
            "review by the committee, so the collaboration is cleared."
        ),
        "project": "Project",
        "researcher": "Researcher",
        "department": "Department",
        "partners": "Partner institutions",
        "partner": "Partner",
        "country": "Country",
        "decision": "Decision",
        "decision_approved": "Approved",
        "decision_approved_with_conditions": "Approved with conditions",
        "decision_declined": "Declined",
        "decision_note_approved": "The collaboration may proceed as proposed.",
        "decision_note_approved_with_conditions": (
            "The collaboration may proceed provided that all of the following conditions are met."
        ),
        "decision_note_declined": "The collaboration may not proceed in the proposed form.",
        "conditions": "Conditions",
        "reasoning": "Reasoning",
        "flags": "Screening findings",
        "flag_title": "Finding",
        "severity": "Severity",
        "sources": "Sources",
        "no_flags": "The screening raised no findings.",
        "severity_info": "Information",
        "severity_low": "Low",
        "severity_medium": "Medium",
        "severity_high": "High",
        "severity_critical": "Critical",
        "basis": "Basis of the screening",
        "rule_set": "Rule set",
        "rule_set_value": "version {version}",
        "lists_screened": "Lists screened against",
        "list_name": "List",
        "list_version": "Version",
        "risk_tier": "Risk tier",
        "tier_low": "Low",
        "tier_medium": "Medium",
        "tier_high": "High",
        "tier_critical": "Critical",
        "clearance": "Clearance",
        "clearance_text": (
            "Automatic clearance: risk tier {tier}. The collaboration may proceed. A new screening is "
            "needed if partners, scope or funding change."
        ),
        "rationale": "Rationale",
        "rationale_text": (
            "Every partner was compared with the lists below under the rule set named here; no rule raised "
            "a finding above the low tier."
        ),
        "committee": "Committee",
        "chair": "Chair",
        "signed_for": "For the committee",
        "issued_by": "Issued by",
        "verification": "Verification",
        "verification_code": "Verification code",
        "verification_text": (
            "To check that this letter is genuine, open the address below or scan the code, enter the "
            "verification code, and compare the letter with the record, or upload the PDF file to have its "
            "fingerprint compared."
        ),
        "automatic_notice": "This letter was produced automatically and is valid without a handwritten signature.",
        "title_decision": "Screening decision {reference}",
        "title_fast_track": "Screening clearance {reference}",
    },
    "de": {
        "page_of": "Seite {page} von {pages}",
        "reference": "Aktenzeichen",
        "date": "Datum",
        "to": "An",
        "subject_decision": (
            "Entscheidung über die Exportkontroll- und Forschungssicherheitsprüfung Ihrer Kooperation"
        ),
        "subject_fast_track": "Freigabe Ihrer Kooperation",
        "salutation": "Guten Tag {name},",
        "intro_decision": (
            "der Ausschuss für Forschungssicherheit hat die unten beschriebene geplante Kooperation geprüft. "
            "Dieses Schreiben hält seine Entscheidung fest."
        ),
        "intro_fast_track": (
            "die unten beschriebene geplante Kooperation wurde automatisch geprüft. Kein Befund erforderte eine "
            "Prüfung durch den Ausschuss; die Kooperation ist daher freigegeben."
        ),
        "project": "Vorhaben",
        "researcher": "Forschende Person",
        "department": "Einrichtung",
        "partners": "Partnereinrichtungen",
        "partner": "Partner",
        "country": "Land",
        "decision": "Entscheidung",
        "decision_approved": "Genehmigt",
        "decision_approved_with_conditions": "Genehmigt mit Auflagen",
        "decision_declined": "Abgelehnt",
        "decision_note_approved": "Die Kooperation kann wie beantragt durchgeführt werden.",
        "decision_note_approved_with_conditions": (
            "Die Kooperation kann durchgeführt werden, sofern alle folgenden Auflagen erfüllt werden."
        ),
        "decision_note_declined": "Die Kooperation kann in der beantragten Form nicht durchgeführt werden.",
        "conditions": "Auflagen",
        "reasoning": "Begründung",
        "flags": "Prüfbefunde",
        "flag_title": "Befund",
        "severity": "Schweregrad",
        "sources": "Quellen",
        "no_flags": "Die Prüfung ergab keine Befunde.",
        "severity_info": "Hinweis",
        "severity_low": "Gering",
        "severity_medium": "Mittel",
        "severity_high": "Hoch",
        "severity_critical": "Kritisch",
        "basis": "Grundlage der Prüfung",
        "rule_set": "Regelwerk",
        "rule_set_value": "Version {version}",
        "lists_screened": "Geprüfte Listen",
        "list_name": "Liste",
        "list_version": "Stand",
        "risk_tier": "Risikostufe",
        "tier_low": "Gering",
        "tier_medium": "Mittel",
        "tier_high": "Hoch",
        "tier_critical": "Kritisch",
        "clearance": "Freigabe",
        "clearance_text": (
            "Automatische Freigabe: Risikostufe {tier}. Die Kooperation kann durchgeführt werden. Bei Änderungen "
            "an Partnern, Umfang oder Finanzierung ist eine neue Prüfung erforderlich."
        ),
        "rationale": "Begründung",
        "rationale_text": (
            "Alle Partner wurden nach dem hier genannten Regelwerk mit den unten aufgeführten Listen abgeglichen; "
            "keine Regel ergab einen Befund oberhalb der geringen Risikostufe."
        ),
        "committee": "Ausschuss",
        "chair": "Vorsitz",
        "signed_for": "Für den Ausschuss",
        "issued_by": "Ausgestellt von",
        "verification": "Echtheitsprüfung",
        "verification_code": "Prüfcode",
        "verification_text": (
            "Um die Echtheit dieses Schreibens zu prüfen, öffnen Sie die folgende Adresse oder scannen Sie den "
            "Code, geben Sie den Prüfcode ein und vergleichen Sie das Schreiben mit dem Eintrag, oder laden Sie "
            "die PDF-Datei hoch, um ihren Fingerabdruck abgleichen zu lassen."
        ),
        "automatic_notice": "Dieses Schreiben wurde maschinell erstellt und ist ohne Unterschrift gültig.",
        "title_decision": "Prüfentscheidung {reference}",
        "title_fast_track": "Prüffreigabe {reference}",
    },
}


class Translator:
    """``t(key, **values)`` for one language; unknown keys raise ``KeyError``."""

    def __init__(self, language: str) -> None:
        if language not in MESSAGES:
            raise ValueError(f"unsupported language {language!r}; expected one of {', '.join(LANGUAGES)}")
        self.language = language
        self._messages = MESSAGES[language]

    def __call__(self, key: str, **values: object) -> str:
        try:
            text = self._messages[key]
        except KeyError:
            raise KeyError(f"no {self.language!r} text for {key!r}") from None
        # The pattern is ours; values are only substituted, never interpreted.
        return text.format(**values) if values else text


def format_date(value: date | datetime, language: str) -> str:
    """``26. November 2026`` (de) or ``26 November 2026`` (en); datetimes use their own time zone."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("datetimes in letters must be timezone-aware")
        value = value.date()
    if not isinstance(value, date):
        raise TypeError(f"expected a date, got {type(value).__name__}")
    month = MONTHS[language][value.month - 1]
    if language == "de":
        return f"{value.day}. {month} {value.year}"
    return f"{value.day} {month} {value.year}"
