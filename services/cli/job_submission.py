"""``cues submit --as-job``: hand a batch to a Ray cluster's job server and return.

The submission id is derived from the batch (``cues-<batch-id>``), so submitting the same briefs twice finds the
first job instead of starting a second. Local brief files travel with the job (its working directory); ``s3://``
sources are read by the cluster itself. Credentials are never put on the command line: the workers use the
standard AWS chain of the cluster (instance profile, IRSA, environment).

The job runs ``python -m cues.services.cli`` with the cluster's Python, so it needs the package installed there, not
a ``cues`` script on the PATH. A job server that answers "try again" (HTTP 5xx, as a fresh cluster does with "No
available agent to submit job" while its agent starts, or no connection) is asked again after each of
``SUBMIT_RETRY_DELAYS_S``; any other refusal (4xx) ends at once. Either way the user gets one line, not a traceback.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cues.pipelines.generate.brief_sources import read_sources
from cues.pipelines.generate.job import batch_id_of, expand_briefs
from cues.pipelines.generate.revision_source import StoreRevisions
from cues.schemas.config import GenerateConfig
from cues.schemas.errors import RuntimeSetupError

ENTRYPOINT = ["python", "-m", "cues.services.cli"]  # the cluster's Python and the installed package
# Seconds to wait before each new attempt while the job server answers "try again": 15 s in all, time for a fresh
# cluster's job agent to start.
SUBMIT_RETRY_DELAYS_S = (1.0, 2.0, 4.0, 8.0)


def submission_id(config: GenerateConfig) -> str:
    """``cues-<batch-id>`` of the batch ``config`` would run (named as the job names it: by its cues, or by its
    briefs' outcomes when none is valid, which name the briefs by their local paths)."""
    outcomes, cues = expand_briefs(read_sources(config.sources, StoreRevisions(config.store)))
    return f"cues-{batch_id_of(cues, config.occurrence, outcomes)}"


def entrypoint(config: GenerateConfig, sources: list[str]) -> str:
    words = [*ENTRYPOINT, "submit", *sources, "--store", config.store]
    if config.models:
        words += ["--model", config.models]
    if config.workers:
        words += ["--workers", str(config.workers)]
    if config.worker_cpus != GenerateConfig.model_fields["worker_cpus"].default:
        words += ["--worker-cpus", f"{config.worker_cpus:g}"]
    if config.render.soundfont:
        words += ["--soundfont", config.render.soundfont]
    return shlex.join(words)


def submit_as_job(config: GenerateConfig) -> str:
    """Submit the batch as a Ray Job (unless that batch's job exists); returns a line saying which."""
    from ray.job_submission import JobSubmissionClient

    address = config.ray.address or os.environ.get("RAY_ADDRESS")
    if not address:
        raise RuntimeSetupError("--as-job needs a cluster: set RAY_ADDRESS or --ray-address (the dashboard, :8265)")
    job_id = submission_id(config)
    try:
        client = JobSubmissionClient(address if "://" in address else f"http://{address}")
    except Exception as err:  # the client raises ConnectionError, ValueError… when the job server is not there
        raise RuntimeSetupError(f"cannot reach the Ray job server at {address}: {err}") from err

    def submit_once() -> str:
        status = _job_status(client, job_id)  # also after a failed attempt: the job may have been taken after all
        if status is not None:
            return f"batch already submitted as Ray job {job_id} ({status}); `ray job logs {job_id}` follows it"
        with tempfile.TemporaryDirectory() as tmp:
            sources = _pack_local_sources(config.sources, Path(tmp))
            client.submit_job(
                entrypoint=entrypoint(config, sources),
                submission_id=job_id,
                runtime_env={"working_dir": tmp} if any(not s.startswith("s3://") for s in sources) else None,
            )
        return f"submitted Ray job {job_id}; `ray job logs --follow {job_id}` follows it"

    return _asking_again(submit_once, f"the Ray job server at {address}", job_id)


def _http_status(err: Exception) -> int | None:
    """The HTTP status of a job server's answer, from the ``RuntimeError`` Ray's client raises for it (it keeps the
    status only in its message: "Request failed with status code 500: …")."""
    found = re.match(r"Request failed with status code (\d{3})", str(err))
    return int(found.group(1)) if found else None


def _job_status(client, job_id: str) -> str | None:
    """The job's status, or None when the job server does not know the job."""
    try:
        return str(client.get_job_info(job_id).status)
    except RuntimeError as err:
        if _http_status(err) == 404:
            return None
        raise


def _asking_again(ask: Callable[[], str], server: str, job_id: str) -> str:
    """``ask()``, again after each of ``SUBMIT_RETRY_DELAYS_S`` while the job server answers 5xx or does not answer;
    a refusal or the last failure as one :class:`RuntimeSetupError`."""
    delays = iter(SUBMIT_RETRY_DELAYS_S)
    while True:
        try:
            return ask()
        except (RuntimeError, OSError) as err:  # OSError: no connection (requests' ConnectionError is one)
            status = _http_status(err)
            answer = re.sub(r"^Request failed with status code (\d{3}): ", r"HTTP \1: ", str(err)).rstrip(".")
            if status is not None and status < 500:
                raise RuntimeSetupError(f"{server} refused job {job_id}: {answer}") from None
            delay = next(delays, None)
            if delay is None:
                raise RuntimeSetupError(
                    f"{server} did not take job {job_id} in {len(SUBMIT_RETRY_DELAYS_S) + 1} attempts over "
                    f"{sum(SUBMIT_RETRY_DELAYS_S):g} s: {answer}; check the cluster (`ray status`, the dashboard's "
                    "logs) and submit again"
                ) from None
            time.sleep(delay)


def _pack_local_sources(sources: tuple[str, ...], into: Path) -> list[str]:
    """Copy local brief files into ``into`` (the job's working directory); returns the sources as the job sees them."""
    seen = []
    for index, source in enumerate(sources):
        if source.startswith("s3://"):
            seen.append(source)
            continue
        target = into / f"briefs-{index}"
        path = Path(source)
        if path.is_dir():
            shutil.copytree(path, target)
        else:
            target.mkdir()
            for match in sorted(Path().glob(source)) if not path.exists() else [path]:
                shutil.copy2(match, target / match.name)
        seen.append(target.name)
    return seen
