"""Plain data -> pictures: collapse, scene (the state at step k), render (DOT), layout
(Graphviz, in a worker), export."""
