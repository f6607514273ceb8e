# SPDX-License-Identifier: GPL-2.0
# Documentation checks: man pages for every exported symbol, groff -ww clean,
# tcpcp.rst parses, the worked example in tcpcp.rst is a valid ICI.  Man
# pages are installed by tools/tools.mk's install target.

CHECK_TESTS += Documentation/check-docs.sh
CHECK_DEPS += $(O)/tcpcp-ici $(O)/tools/tcpcp-ici/mkici
