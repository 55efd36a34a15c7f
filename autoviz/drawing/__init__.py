"""Plain data -> pictures and tables: collapse, scene, render (DOT), layout (Graphviz, in a
worker), export, tables."""
