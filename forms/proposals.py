"""The proposal form: the whole proposal contract, with repeatable rows added and removed
by submit buttons (no JavaScript needed), and its mapping to and from the contract dict."""

import re
import secrets

from flask import has_request_context, request
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import (
    BooleanField,
    DateField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from forms.validators import PlainText, strip_filter
from screening.core.countries import ISO_CODES, country_choices
from screening.core.engine import ford_fields, technology_areas

MAX_PARTNERS = 50
MAX_FUNDING = 20
MAX_TRANSFERS = 20
LISTS = {"partners": MAX_PARTNERS, "funding": MAX_FUNDING, "data_transfers": MAX_TRANSFERS}

PARTNER_TYPES = [
    ("university", _l("University")),
    ("research_institute", _l("Research institute")),
    ("company", _l("Company")),
    ("government", _l("Government body")),
    ("military", _l("Military organisation")),
    ("hospital", _l("Hospital")),
    ("ngo", _l("Non-governmental organisation")),
    ("other", _l("Other")),
]
FUNDING_KINDS = [
    ("grant", _l("Grant")),
    ("scholarship", _l("Scholarship")),
    ("industry", _l("Industry funding")),
    ("government", _l("Government funding")),
    ("internal", _l("Internal funds")),
    ("other", _l("Other")),
]
DIRECTIONS = [
    ("outbound", _l("Outbound: from us to the partner country")),
    ("inbound", _l("Inbound: from the partner country to us")),
    ("both", _l("Both directions")),
]
DATA_CATEGORIES = [
    ("none", _l("No data")),
    ("anonymised", _l("Anonymised data")),
    ("research_data", _l("Research data (not personal)")),
    ("personal", _l("Personal data")),
    ("sensitive_personal", _l("Sensitive personal data")),
    ("health", _l("Health data")),
    ("human_genetic", _l("Human genetic data")),
    ("biological_samples", _l("Biological samples")),
    ("geospatial", _l("Geospatial data")),
    ("important_data", _l("'Important data' under Chinese law")),
    ("export_controlled_technology", _l("Export-controlled technology")),
    ("source_code", _l("Source code")),
]
DUAL_USE_RE = re.compile(r"^[0-9][A-E][0-9]{3}[a-z0-9.]*$")
_SPLIT_RE = re.compile(r"[,;\n]+")


def split_list(value: str | None) -> list[str]:
    return [part.strip() for part in _SPLIT_RE.split(value or "") if part.strip()]


class CheckboxesField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def select_choices(pairs, blank=None) -> list[SelectChoice]:
    """SelectChoice objects from (value, label) pairs, with an optional empty first option."""
    out = [SelectChoice("", blank)] if blank is not None else []
    return out + [SelectChoice(value, label) for value, label in pairs]


def _country_choices():
    return select_choices(country_choices(str(get_locale() or "en")), blank=_l("— choose a country —"))


class CountryField(SelectField):
    """ISO 3166-1 alpha-2 picker; names in the user's language."""

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, choices=_country_choices, validate_choice=False, **kwargs)

    def pre_validate(self, form):
        if self.data and self.data not in ISO_CODES:
            raise ValidationError(_l("Choose a country from the list."))


class OptionalSelectField(SelectField):
    def __init__(self, label=None, validators=None, options=(), **kwargs):
        super().__init__(label, validators, choices=select_choices(options, blank=_l("— not specified —")),
                         validate_choice=False, **kwargs)
        self._allowed = {value for value, _label in options}

    def pre_validate(self, form):
        if self.data and self.data not in self._allowed:
            raise ValidationError(_l("Choose one of the listed options."))


class ListOfText:
    """A comma-separated list whose items each obey a length and an optional pattern."""

    def __init__(self, max_items: int, max_length: int, pattern: re.Pattern | None = None, message=None):
        self.max_items, self.max_length, self.pattern, self.message = max_items, max_length, pattern, message

    def __call__(self, form, field):
        items = split_list(field.data)
        if len(items) > self.max_items:
            raise ValidationError(_l("At most %(n)d entries.", n=self.max_items))
        for item in items:
            if len(item) > self.max_length:
                raise ValidationError(_l("Each entry may have at most %(n)d characters.", n=self.max_length))
            if self.pattern and not self.pattern.match(item):
                raise ValidationError(self.message or _l("Invalid entry: %(item)s", item=item))


class PartnerForm(Form):
    name = StringField(_l("Name"), filters=[strip_filter],
                       validators=[DataRequired(_l("Enter the partner's name.")), Length(min=2, max=300),
                                   PlainText()])
    name_local = StringField(_l("Name in the partner's own script"), filters=[strip_filter],
                             validators=[Optional(), Length(max=300), PlainText()])
    country = CountryField(_l("Country"), validators=[DataRequired(_l("Choose the partner's country."))])
    type = OptionalSelectField(_l("Type"), options=PARTNER_TYPES)
    department = StringField(_l("Department or institute"), filters=[strip_filter],
                             validators=[Optional(), Length(max=300), PlainText()])


class FundingForm(Form):
    source = StringField(_l("Funder or programme"), filters=[strip_filter],
                         validators=[DataRequired(_l("Enter the funder or programme.")),
                                     Length(min=2, max=300), PlainText()])
    country = CountryField(_l("Funder's country"), validators=[Optional()])
    kind = OptionalSelectField(_l("Kind of funding"), options=FUNDING_KINDS)
    co_selected_by = StringField(
        _l("Also selected by (comma-separated, e.g. DAAD)"), filters=[strip_filter],
        validators=[Optional(), Length(max=2000), PlainText(), ListOfText(20, 100)],
    )


class TransferForm(Form):
    direction = SelectField(_l("Direction"), choices=select_choices(DIRECTIONS, blank=_l("— choose —")),
                            validators=[DataRequired(_l("Choose the direction of the transfer."))])
    country = CountryField(_l("Country at the other end"),
                           validators=[DataRequired(_l("Choose the country at the other end."))])
    categories = CheckboxesField(_l("Kinds of data"), choices=select_choices(DATA_CATEGORIES),
                                 validators=[DataRequired(_l("Tick at least one kind of data."))])
    data_subjects = IntegerField(_l("Number of people the data concerns"),
                                 validators=[Optional(), NumberRange(min=0, max=10_000_000_000)])
    description = TextAreaField(_l("Description"), filters=[strip_filter],
                                validators=[Optional(), Length(max=5000), PlainText(multiline=True)])


class ProposalForm(FlaskForm):
    form_token = HiddenField()
    title = StringField(_l("Title"), filters=[strip_filter],
                        validators=[DataRequired(_l("Enter a title.")), Length(min=3, max=300), PlainText()])
    faculty = StringField(_l("Faculty or department (optional, decides which committee reviews it)"),
                          filters=[strip_filter], validators=[Optional(), Length(max=100), PlainText()])
    abstract = TextAreaField(_l("Abstract"), filters=[strip_filter],
                             validators=[Optional(), Length(max=20000), PlainText(multiline=True)])
    keywords = StringField(_l("Keywords (comma-separated)"), filters=[strip_filter],
                           validators=[Optional(), Length(max=6000), PlainText(), ListOfText(50, 100)])
    research_fields = CheckboxesField(
        _l("Fields of research (OECD FORD)"),
        choices=lambda: select_choices((code, f"{code} {label}") for code, label in ford_fields().items()),
        invalid_choice_message=lambda n: _l("Unknown field of research: %(value)s"),
    )
    technology_areas = CheckboxesField(
        _l("Sensitive technology areas"), choices=lambda: select_choices(technology_areas().items()),
        invalid_choice_message=lambda n: _l("Unknown technology area: %(value)s"),
    )
    partners = FieldList(FormField(PartnerForm), label=_l("Partners"), max_entries=MAX_PARTNERS)
    funding = FieldList(FormField(FundingForm), label=_l("Funding"), max_entries=MAX_FUNDING)
    data_transfers = FieldList(FormField(TransferForm), label=_l("Data transfers"), max_entries=MAX_TRANSFERS)
    dual_use_codes = StringField(
        _l("EU dual-use control list entries (comma-separated, e.g. 3A001)"), filters=[strip_filter],
        validators=[Optional(), Length(max=2000), PlainText(),
                    ListOfText(50, 40, DUAL_USE_RE, _l("Use control list entries such as 3A001 or 5A002a."))],
    )
    military_end_use = BooleanField(_l("The results may have a military end use"))
    export_notes = TextAreaField(_l("Notes on export control"), filters=[strip_filter],
                                 validators=[Optional(), Length(max=5000), PlainText(multiline=True)])
    start_date = DateField(_l("Planned start"), validators=[Optional()])
    duration_months = IntegerField(_l("Duration in months"),
                                   validators=[Optional(), NumberRange(min=1, max=240)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        raw = kwargs.get("formdata")
        if raw is None and "formdata" not in kwargs and has_request_context() and request.method == "POST":
            raw = request.form
        self._row_counts = _row_counts(raw)
        if not self.form_token.data:
            self.form_token.data = secrets.token_urlsafe(24)
        self.section_errors: dict[str, str] = {}

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        for name, limit in LISTS.items():
            if self._row_counts.get(name, 0) > limit:
                self.section_errors[name] = str(_l("At most %(n)d entries.", n=limit))
                ok = False
        return ok

    def validate_start_date(self, field):
        if field.data and not (1990 <= field.data.year <= 2100):
            raise ValidationError(_l("Enter a date between 1990 and 2100."))

    def validate_for_submit(self) -> bool:
        """Full validation: everything a draft needs plus the sections the contract requires."""
        ok = self.validate()
        if not self.research_fields.data:
            self.section_errors["research_fields"] = str(_l("Choose at least one field of research."))
        if not self.partners.entries:
            self.section_errors["partners"] = str(_l("Add at least one partner."))
        return ok and not self.section_errors

    def to_proposal(self) -> dict:
        """The contract dict for the validated form (optional empty values left out)."""
        data: dict = {"title": self.title.data, "research_fields": list(self.research_fields.data or [])}
        if self.abstract.data:
            data["abstract"] = self.abstract.data
        if keywords := split_list(self.keywords.data):
            data["keywords"] = keywords
        if self.technology_areas.data:
            data["technology_areas"] = list(self.technology_areas.data)
        data["partners"] = [_compact({
            "name": p.form.name.data, "name_local": p.form.name_local.data, "country": p.form.country.data,
            "type": p.form.type.data, "department": p.form.department.data,
        }) for p in self.partners]
        if self.funding.entries:
            data["funding"] = [_compact({
                "source": f.form.source.data, "country": f.form.country.data, "kind": f.form.kind.data,
                "co_selected_by": split_list(f.form.co_selected_by.data),
            }) for f in self.funding]
        if self.data_transfers.entries:
            data["data_transfers"] = [_compact({
                "direction": t.form.direction.data, "country": t.form.country.data,
                "categories": list(t.form.categories.data or []), "data_subjects": t.form.data_subjects.data,
                "description": t.form.description.data,
            }) for t in self.data_transfers]
        export = _compact({
            "dual_use_codes": split_list(self.dual_use_codes.data),
            "military_end_use": True if self.military_end_use.data else None,
            "notes": self.export_notes.data,
        })
        if export:
            data["export_control"] = export
        if self.start_date.data:
            data["start_date"] = self.start_date.data.isoformat()
        if self.duration_months.data is not None:
            data["duration_months"] = self.duration_months.data
        return data


def _row_counts(formdata) -> dict[str, int]:
    counts: dict[str, set[str]] = {}
    for key in formdata.keys() if formdata is not None else ():
        m = _ROW_KEY.match(key)
        if m:
            counts.setdefault(m.group(1), set()).add(m.group(2))
    return {name: len(indices) for name, indices in counts.items()}


def _compact(d: dict) -> dict:
    return {k: v for k, v in d.items() if v not in (None, "", [], {})}


def form_data_from_proposal(proposal: dict) -> dict:
    """``data=`` for :class:`ProposalForm` from a stored contract dict (a draft's working copy)."""
    export = proposal.get("export_control") or {}
    start = proposal.get("start_date")
    if start:
        from datetime import date

        try:
            start = date.fromisoformat(start)
        except ValueError:
            start = None
    return {
        "title": proposal.get("title", ""),
        "abstract": proposal.get("abstract", ""),
        "keywords": ", ".join(proposal.get("keywords", [])),
        "research_fields": proposal.get("research_fields", []),
        "technology_areas": proposal.get("technology_areas", []),
        "partners": [dict(p) for p in proposal.get("partners", [])],
        "funding": [{**f, "co_selected_by": ", ".join(f.get("co_selected_by", []))}
                    for f in proposal.get("funding", [])],
        "data_transfers": [dict(t) for t in proposal.get("data_transfers", [])],
        "dual_use_codes": ", ".join(export.get("dual_use_codes", [])),
        "military_end_use": bool(export.get("military_end_use")),
        "export_notes": export.get("notes", ""),
        "start_date": start,
        "duration_months": proposal.get("duration_months"),
    }


_ROW_KEY = re.compile(r"^(partners|funding|data_transfers)-(\d+)-(.+)$")
_FIRST_FIELD = {"partners": "name", "funding": "source", "data_transfers": "description"}


def apply_row_action(formdata: MultiDict, action: str) -> tuple[MultiDict, bool]:
    """Add or remove a repeatable row in the raw posted data, keeping everything typed.

    ``action`` is ``add:<list>`` or ``remove:<list>:<index>``. Returns the new form data and
    whether the action was understood. Rows after a removed one are renumbered.
    """
    parts = action.split(":")
    if len(parts) not in (2, 3) or parts[1] not in LISTS:
        return formdata, False
    list_name = parts[1]
    rows: dict[int, list[tuple[str, str]]] = {}
    out = MultiDict()
    for key, value in formdata.items(multi=True):
        if key == "action":
            continue
        m = _ROW_KEY.match(key)
        if m and m.group(1) == list_name:
            rows.setdefault(int(m.group(2)), []).append((m.group(3), value))
        else:
            out.add(key, value)
    ordered = [rows[i] for i in sorted(rows)]
    if parts[0] == "add" and len(parts) == 2:
        if len(ordered) < LISTS[list_name]:
            ordered.append([(_FIRST_FIELD[list_name], "")])
    elif parts[0] == "remove" and len(parts) == 3 and parts[2].isdigit():
        index = int(parts[2])
        if 0 <= index < len(ordered):
            del ordered[index]
    else:
        return formdata, False
    for new_index, fields in enumerate(ordered):
        for sub, value in fields:
            out.add(f"{list_name}-{new_index}-{sub}", value)
    return out, True
