"""Stand-in for ``python -m sglang.launch_server``: takes SGLang 0.5.23's flags, serves glmbench's simulator."""

import sys

if __name__ == "__main__":
    from glmbench.sim.standin import sglang_main
    from sglang import __version__

    sglang_main(sys.argv[1:], version=__version__)
