"""`rekurator-gui --self-test`: check that an install (a wheel, a PyInstaller bundle) is complete.

Each check returns a dict of what it found, or raises; run_checks stops at the first failure
and reports it by name. The Qt-free checks live here; the GUI adds its window check
(app/gui/main.py). Nothing is written outside a temporary folder except the model cache (the
converted dlib model is built there on a first run, as any analysis would).
"""

from __future__ import annotations

import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import app
from app import resources

SAMPLE_PHOTO = "obama.jpg"  # one clear frontal face


class SelfTestError(RuntimeError):
    """A check found the install incomplete or broken; the message says what is wrong."""


def check_resources() -> dict:
    """The bundled model, sample photos, report schema and icon are where the code looks."""
    folder = resources.resources_dir()
    needed = [resources.YUNET_MODEL, resources.REPORT_SCHEMA, (*resources.SAMPLES, SAMPLE_PHOTO)]
    missing = [str(folder.joinpath(*parts)) for parts in needed if not folder.joinpath(*parts).is_file()]
    if missing:
        looked = ", ".join(str(p) for p in resources.candidate_dirs())
        raise SelfTestError(f"resource files missing: {', '.join(missing)} (looked in: {looked})")
    icons = resources.icon_files()
    if not icons:
        raise SelfTestError(f"no application icon under {folder / 'icons'}")
    return {"folder": str(folder), "icons": len(icons)}


def check_analysis(analyzer_factory: Callable | None = None, photo: Path | None = None) -> dict:
    """Load the face models and find at least one face in a bundled sample photo."""
    if analyzer_factory is None:
        from app.vision.default_analyzer import create_default_analyzer

        analyzer_factory = create_default_analyzer
    photo = photo or resources.resource_path(*resources.SAMPLES, SAMPLE_PHOTO)
    started = time.perf_counter()
    analyzer = analyzer_factory()
    loaded = time.perf_counter()
    analysis = analyzer.analyze(photo.read_bytes())
    done = time.perf_counter()
    if not analysis.faces:
        raise SelfTestError(f"no face found in the sample photo {photo}")
    descriptor = analysis.faces[0].descriptor
    if descriptor is None or len(descriptor) == 0:
        raise SelfTestError(f"the face in {photo} got no descriptor")
    return {
        "model_version": getattr(analyzer, "model_version", None),
        "photo": photo.name,
        "faces": len(analysis.faces),
        "descriptor_length": len(descriptor),
        "load_s": round(loaded - started, 3),
        "analyse_s": round(done - loaded, 3),
    }


def run_checks(checks: list[tuple[str, Callable[[], dict]]]) -> dict:
    """Run the checks in order; the summary is JSON-ready, with "ok" false at the first failure."""
    summary: dict[str, Any] = {
        "ok": True,
        "version": app.__version__,
        "python": platform.python_version(),
        "platform": f"{platform.system()}-{platform.machine()}",
        "frozen": bool(getattr(sys, "frozen", False)),
        "checks": {},
    }
    for name, check in checks:
        started = time.perf_counter()
        try:
            result = dict(check() or {})
        except Exception as exc:  # any failure is the answer: report it, by check, and stop
            summary["ok"] = False
            summary["failed"] = name
            summary["error"] = f"{type(exc).__name__}: {exc}"
            summary["checks"][name] = {"ok": False, "seconds": round(time.perf_counter() - started, 3)}
            break
        result.update(ok=True, seconds=round(time.perf_counter() - started, 3))
        summary["checks"][name] = result
    return summary


def chosen_analyzer_factory(model_pack: str | None = None) -> Callable:
    """The analyzer the program would use: --model-pack, else $REKURATOR_MODEL_PACK, else the bundled one.

    A pack that cannot be used fails the check (ModelPackError names why), rather than the
    self-test quietly checking the bundled models instead.
    """
    from app.vision.analyzers import analyzer_choice

    factory, _version = analyzer_choice(model_pack)
    return factory


def default_checks(model_pack: str | None = None) -> list[tuple[str, Callable[[], dict]]]:
    return [("resources", check_resources),
            ("analysis", lambda: check_analysis(chosen_analyzer_factory(model_pack)))]
