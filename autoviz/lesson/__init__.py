"""Program + choices -> what is taught: the study (a frozen, picklable record), the lab that
makes it where torch is, edits (toggles as rewrites), forms, presets, share links."""
