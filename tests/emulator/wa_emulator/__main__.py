# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Entry point of the emulator image: the role comes from WA_EMU_ROLE (web or coreapp)."""

import signal
import sys
import threading

from .config import Config, ConfigError


def main():
    try:
        config = Config()
    except ConfigError as exc:
        print("configuration error: %s" % exc, file=sys.stderr, flush=True)
        return 2
    if config.role == "web":
        from .web import WebApp
        node = WebApp(config)
    else:
        from .core import CoreNode
        node = CoreNode(config)
    node.start()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if config.role == "web":
        threading.Thread(target=node.serve_forever, daemon=True).start()
    while not stop.wait(1):
        pass
    node.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
