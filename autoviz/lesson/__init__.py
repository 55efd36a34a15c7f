"""Program + choices -> what is taught: the study (a frozen, picklable record), the lab and
the tables that make it where torch is, edits (toggles as rewrites), forms, presets, share
links."""
