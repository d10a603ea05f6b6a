"""The international office: portfolio, bulk import, list monitoring, dashboard and exports.

Every page is for the international office and the institution admin of the user's current
institution; objects of another institution answer 404. Views are thin and commit once.
"""

from datetime import UTC, datetime
from functools import lru_cache

from flask import Blueprint, Response, abort, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup
from sqlmodel import select
from wtforms.fields.choices import SelectChoice

from forms.accounts import PlainActionForm
from forms.portfolio import ImportForm
from screening.accounts.access import roles_required
from screening.core import outbox
from screening.core.errors import NotFound, ValidationFailed
from screening.core.extensions import db
from screening.core.i18n import CATEGORY_LABELS, STATUS_LABELS, TIER_LABELS, current_language
from screening.portfolio import (
    aggregates,
    exports,
    import_columns,
    import_jobs,
    import_parsing,
    index,
    office,
    rescreens,
    search,
)
from screening.portfolio import tasks as portfolio_tasks
from screening.portfolio.models import ReportJob
from screening.portfolio.reports import chart_labels, render_certificate
from screening.proposals import workflow

bp = Blueprint("reports", __name__, url_prefix="/portfolio")

OFFICE = ("international_office", "institution_admin")
LARGE_UPLOADS = frozenset({"reports.import_form"})


@bp.url_value_preprocessor
def _upload_limit(endpoint, values):
    """The bulk import may send up to ``MAX_IMPORT_BYTES`` (default 10 MiB); every other route keeps
    ``MAX_CONTENT_LENGTH``. URL value preprocessors run before any ``before_request`` function (CSRF
    protection reads the form there), so the limit is in place before the body is read."""
    if endpoint in LARGE_UPLOADS:
        from flask import current_app

        request.max_content_length = int(current_app.config.get("MAX_IMPORT_BYTES") or 10 * 1024 * 1024)


def _filters():
    try:
        return search.parse_filters(request.args)
    except ValidationFailed as exc:
        abort(400, description=_("Invalid filter: %(errors)s",
                                 errors="; ".join(f"{k}: {v}" for k, v in exc.errors.items())))


def _page_arg() -> int:
    raw = request.args.get("page", "1")
    if not raw.isdigit() or len(raw) > 5:
        abort(400, description=_("Invalid page number."))
    return max(1, int(raw))


@bp.get("/")
@roles_required(*OFFICE)
def portfolio():
    filters = _filters()
    page = search.search(db.session, g.actor, filters, _page_arg())
    query = filters.query_args()
    saved_link = url_for(".portfolio", _external=True) + ("?" + _urlencode(query) if query else "")
    # The labels translated once for the page, not once per row (50 rows: 200 look-ups saved).
    labels = {name: {key: str(label) for key, label in table.items()} for name, table in (
        ("TIER_LABELS", TIER_LABELS), ("STATUS_LABELS", STATUS_LABELS), ("CATEGORY_LABELS", CATEGORY_LABELS))}
    return render_template("portfolio/portfolio.html", page=page, filters=filters, query=query, **labels,
                           saved_link=saved_link, choices=search.filter_choices(db.session, g.actor),
                           country_options=_country_options(filters.country),
                           tiers=index.TIERS, statuses=[s for s in _statuses()],
                           page_url=lambda n: url_for(".portfolio", **_multi([*query, ("page", str(n))])),
                           export_url=lambda fmt: url_for(".export", fmt=fmt, **_multi(query)))


@lru_cache(maxsize=512)
def _country_options(selected: str) -> Markup:
    """The country filter's ``<option>`` elements: the same 250 codes on every page view, written
    once per selected code (escaping them each time was a tenth of the page's rendering)."""
    return Markup("").join(
        Markup('<option value="{0}"{1}>{0}</option>').format(code, Markup(" selected") if code == selected else "")
        for code in search.COUNTRY_CHOICES)


def _statuses():
    return [s for s in workflow.STATES if s != workflow.DRAFT]


def _urlencode(pairs) -> str:
    from urllib.parse import urlencode

    return urlencode(pairs)


def _multi(pairs):
    out: dict[str, list[str]] = {}
    for k, v in pairs:
        out.setdefault(k, []).append(v)
    return out


@bp.get("/export.<fmt>")
@roles_required(*OFFICE)
def export(fmt: str):
    if fmt not in ("csv", "xlsx"):
        abort(404)
    filters = _filters()
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    # The rows are read inside the request (the session belongs to it); the CSV text is then
    # encoded and sent in chunks, so the response body is never built as one string.
    rows = list(search.export_rows(db.session, g.actor, filters))
    if fmt == "csv":
        response = Response(exports.iter_csv(search.EXPORT_COLUMNS, rows), mimetype="text/csv",
                            headers={"Content-Type": "text/csv; charset=utf-8"})
    else:
        data = exports.to_xlsx(search.EXPORT_COLUMNS, rows, sheet_title="Portfolio")
        response = Response(data, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response.headers["Content-Disposition"] = f'attachment; filename="portfolio-{stamp}.{fmt}"'
    return response


# ---------------------------------------------------------------------------- bulk import

@bp.get("/import/template.<fmt>")
@roles_required(*OFFICE)
def import_template(fmt: str):
    if fmt == "csv":
        return Response(import_columns.template_csv(), mimetype="text/csv",
                        headers={"Content-Disposition": 'attachment; filename="collaborations-template.csv"'})
    if fmt == "xlsx":
        return Response(import_columns.template_xlsx(),
                        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": 'attachment; filename="collaborations-template.xlsx"'})
    abort(404)


@bp.route("/import", methods=["GET", "POST"])
@roles_required(*OFFICE)
def import_form():
    form = ImportForm()
    owners = import_jobs.owner_choices(db.session, g.actor)
    form.owner.choices = [SelectChoice(u.id, f"{u.name} <{u.email}>") for u in owners]
    if request.method == "GET":
        return render_template("portfolio/import.html", form=form, result=None)
    if not form.validate():
        return render_template("portfolio/import.html", form=form, result=None), 400
    upload = form.file.data
    filename = (upload.filename or "").strip()
    try:
        data = upload.read()
    finally:
        upload.close()  # a large upload is spooled to a temporary file
    result = import_parsing.parse_upload(filename, data)
    if result.file_errors:
        return render_template("portfolio/import.html", form=form, result=result), 400
    valid_only = bool(form.valid_rows_only.data)
    chosen = [(row.row_number, row.proposal) for row in result.rows
              if row.proposal is not None and (row.is_valid or False)]
    if not result.is_valid and not valid_only:
        return render_template("portfolio/import.html", form=form, result=result), 400
    if not chosen:
        return render_template("portfolio/import.html", form=form, result=result), 400
    job = import_jobs.start_import(db.session, g.actor, filename, chosen, owner_id=form.owner.data,
                           skipped_rows=len(result.invalid_rows))
    db.session.commit()
    return redirect(url_for(".import_job", job_id=job.id), code=303)


@bp.get("/import/<int:job_id>")
@roles_required(*OFFICE)
def import_job(job_id: int):
    job = import_jobs.get_import(db.session, g.actor, job_id)
    return render_template("portfolio/import_job.html", job=job, tiers=index.TIERS)


@bp.get("/import/<int:job_id>/progress")
@roles_required(*OFFICE)
def import_progress(job_id: int):
    job = import_jobs.get_import(db.session, g.actor, job_id)
    return {"id": job.id, "status": job.status, "total": job.total, "done": job.done,
            "percent": round(100 * job.done / job.total) if job.total else 100}


# ---------------------------------------------------------------------------- monitoring

@bp.get("/monitoring")
@roles_required(*OFFICE)
def monitoring():
    job = rescreens.latest_change_job(db.session)
    return render_template("portfolio/monitoring.html", job=job, rows=rescreens.changes(db.session, g.actor, job),
                           list_changes=rescreens.list_changes(),
                           action_form=PlainActionForm())


@bp.post("/monitoring/check")
@roles_required(*OFFICE)
def monitoring_check():
    office.require_office(g.actor)
    portfolio_tasks.monitor(db.session)
    db.session.commit()
    return redirect(url_for(".monitoring"), code=303)


@bp.get("/monitoring/<int:job_id>/progress")
@roles_required(*OFFICE)
def rescreen_progress(job_id: int):
    job = rescreens.get_rescreen(db.session, g.actor, job_id)
    # Counts span every institution: only the share done is shown.
    return {"id": job.id, "status": job.status,
            "percent": round(100 * job.done / job.total) if job.total else 100}


@bp.get("/proposals/<int:pid>/certificate.pdf")
@roles_required(*OFFICE)
def certificate(pid: int):
    proposal = office.get_proposal(db.session, g.actor, pid)
    pdf = render_certificate(db.session, proposal, language=current_language())
    if pdf is None:
        raise NotFound("not screened yet")
    return Response(pdf.data, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="screening-certificate-P{pid}.pdf"'})


# ---------------------------------------------------------------------------- dashboard

def _suppress_arg() -> bool:
    return request.args.get("suppress", "") in ("1", "on", "true")


@bp.get("/dashboard")
@roles_required(*OFFICE)
def dashboard():
    suppress = _suppress_arg()
    data = aggregates.dashboard(db.session, g.actor)
    charts = aggregates.chart_svgs(data, suppress, chart_labels(current_language()))
    reports = db.session.exec(select(ReportJob).where(ReportJob.institution_id == g.actor.institution_id)
                              .order_by(ReportJob.id.desc()).limit(5)).all()
    return render_template("portfolio/dashboard.html", data=data, charts=charts, suppress=suppress,
                           s=lambda n: aggregates.suppressed(int(n), suppress), reports=reports,
                           action_form=PlainActionForm())


@bp.post("/dashboard/pdf")
@roles_required(*OFFICE)
def report_request():
    office.require_office(g.actor)
    report = ReportJob(institution_id=g.actor.institution_id, requested_by_id=g.user.id,
                       suppress=request.form.get("suppress") in ("1", "on", "true"), language=current_language())
    db.session.add(report)
    db.session.flush()
    outbox.enqueue(db.session, "portfolio.report", {"report_id": report.id})
    db.session.commit()
    return redirect(url_for(".report_status", rid=report.id), code=303)


def _report(rid: int) -> ReportJob:
    report = db.session.get(ReportJob, rid)
    if report is None:
        abort(404)
    if report.institution_id != g.actor.institution_id:
        raise office.deny(g.actor, "report", rid)
    return report


@bp.get("/reports/<int:rid>")
@roles_required(*OFFICE)
def report_status(rid: int):
    report = _report(rid)
    if request.accept_mimetypes.best == "application/json":
        return {"id": report.id, "status": report.status}
    return render_template("portfolio/report.html", report=report)


@bp.get("/reports/<int:rid>/download")
@roles_required(*OFFICE)
def report_download(rid: int):
    report = _report(rid)
    if report.status != "ready" or not report.sha256:
        abort(404)
    data = portfolio_tasks.report_store().get(report.sha256)
    return Response(data, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="portfolio-report-{rid}.pdf"'})
