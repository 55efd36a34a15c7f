"""Program text -> Program, never exec: parse, static check, the interpreter, costs,
limits, allowlist."""
