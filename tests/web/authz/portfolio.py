"""Authorisation expectations for the international office's portfolio (blueprint ``reports``)."""

OFFICE = {"international_office", "institution_admin"}


def office_page(ok=200):
    """Own-institution pages without ids: every office user sees their own institution's data."""
    return lambda actor, same_inst: ok if actor in OFFICE else 403


def office_object(ok=200):
    """Objects of institution A: the office of A gets ``ok``, the office of B 404, others 403."""
    return lambda actor, same_inst: (ok if same_inst else 404) if actor in OFFICE else 403


def admin_only(ok):
    return lambda actor, same_inst: ok if actor == "institution_admin" else 403


SPEC = {
    "reports.portfolio": ("GET", lambda ids: "/portfolio/", office_page()),
    "reports.export": ("GET", lambda ids: "/portfolio/export.csv", office_page()),
    "reports.import_template": ("GET", lambda ids: "/portfolio/import/template.csv", office_page()),
    "reports.import_form": ("GET", lambda ids: "/portfolio/import", office_page()),
    "reports.import_job": ("GET", lambda ids: f"/portfolio/import/{ids['import_job']}", office_object()),
    "reports.import_progress": ("GET", lambda ids: f"/portfolio/import/{ids['import_job']}/progress",
                                office_object()),
    "reports.monitoring": ("GET", lambda ids: "/portfolio/monitoring", office_page()),
    "reports.monitoring_check": ("POST", lambda ids: "/portfolio/monitoring/check", office_page(303)),
    # Re-screens span every institution; their progress shows a percentage only.
    "reports.rescreen_progress": ("GET", lambda ids: f"/portfolio/monitoring/{ids['rescreen_job']}/progress",
                                  office_page()),
    "reports.certificate": ("GET", lambda ids: f"/portfolio/proposals/{ids['submitted']}/certificate.pdf",
                            office_object()),
    "reports.dashboard": ("GET", lambda ids: "/portfolio/dashboard", office_page()),
    "reports.report_request": ("POST", lambda ids: "/portfolio/dashboard/pdf", office_page(303)),
    "reports.report_status": ("GET", lambda ids: f"/portfolio/reports/{ids['report']}", office_object()),
    "reports.report_download": ("GET", lambda ids: f"/portfolio/reports/{ids['report']}/download",
                                office_object()),
}


def extend_world(factory, world) -> None:
    """An import job, a stored report of institution A, and a re-screen job."""
    from screening.core.extensions import db
    from screening.portfolio import import_jobs
    from screening.portfolio import tasks as portfolio_tasks
    from screening.portfolio.models import ReportJob, RescreenJob

    from ..helpers import minimal_proposal

    inst_a = world["insts"][True]
    office = world["users"][("international_office", True)]
    job = import_jobs.start_import(db.session, factory.actor(office, inst_a), "x.csv",
                                 [(2, minimal_proposal(title="Imported collaboration"))])
    stored = portfolio_tasks.report_store().put(b"%PDF-1.7 matrix test")
    report = ReportJob(institution_id=inst_a.id, requested_by_id=office.id, status="ready",
                       sha256=stored.sha256, size=stored.size)
    rescreen = RescreenJob(cause="baseline", fingerprint="x" * 32, status="done")
    db.session.add_all([report, rescreen])
    db.session.commit()
    world["ids"].update(import_job=job.id, report=report.id, rescreen_job=rescreen.id)
