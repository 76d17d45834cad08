"""Reports on a rendered batch: the audition page, the cue sheet and each cue's piano-roll image."""
