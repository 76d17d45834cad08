"""Rendering and mastering: a cue's MIDI → stems and a mix in one FluidSynth pass → loudness-managed files."""
