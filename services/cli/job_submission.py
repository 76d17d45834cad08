"""``cues submit --as-job``: hand a batch to a Ray cluster's job server and return.

The submission id is derived from the batch (``cues-<batch-id>``), so submitting the same briefs twice finds the
first job instead of starting a second. Local brief files travel with the job (its working directory); ``s3://``
sources are read by the cluster itself. Credentials are never put on the command line: the workers use the
standard AWS chain of the cluster (instance profile, IRSA, environment).
"""

from __future__ import annotations

import os
import shlex
import shutil
import tempfile
from pathlib import Path

from cues.pipelines.generate.brief_sources import read_sources
from cues.pipelines.generate.job import batch_id_of, expand_briefs
from cues.schemas.config import GenerateConfig
from cues.schemas.errors import RuntimeSetupError


def submission_id(config: GenerateConfig) -> str:
    """``cues-<batch-id>`` of the batch ``config`` would run (invalid briefs are left out, as the job does)."""
    _, cues = expand_briefs(read_sources(config.sources))
    return f"cues-{batch_id_of(cues, config.occurrence)}"


def entrypoint(config: GenerateConfig, sources: list[str]) -> str:
    words = ["cues", "submit", *sources, "--store", config.store]
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
    try:
        info = client.get_job_info(job_id)
        return f"batch already submitted as Ray job {job_id} ({info.status}); `ray job logs {job_id}` follows it"
    except RuntimeError:
        pass  # not submitted yet
    with tempfile.TemporaryDirectory() as tmp:
        sources = _pack_local_sources(config.sources, Path(tmp))
        client.submit_job(
            entrypoint=entrypoint(config, sources),
            submission_id=job_id,
            runtime_env={"working_dir": tmp} if any(not s.startswith("s3://") for s in sources) else None,
        )
    return f"submitted Ray job {job_id}; `ray job logs --follow {job_id}` follows it"


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
