# SPDX-License-Identifier: GPL-2.0
# Tools: each tool directory has its own .mk that appends to TOOLS.
TOOLS :=
-include tools/tcpcp-ici/tcpcp-ici.mk
-include tools/tcpcpd/tcpcpd.mk
-include tools/tcpcp-dispatch/tcpcp-dispatch.mk

.PHONY: tools install
tools: $(TOOLS)

install: install-lib $(TOOLS)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) \
		$(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(MANDIR)/man8
	for t in $(TOOLS); do \
		case $$t in *tcpcpd) d=$(SBINDIR) ;; *) d=$(BINDIR) ;; esac; \
		install -m 0755 $$t $(DESTDIR)$$d/; \
	done
	for d in 3 5 7 8; do \
		for m in Documentation/man/*.$$d; do \
			[ -e "$$m" ] || continue; \
			install -d $(DESTDIR)$(MANDIR)/man$$d; \
			cp -P $$m $(DESTDIR)$(MANDIR)/man$$d/; \
		done; \
	done

# make install into a scratch DESTDIR, then link a program against it
CHECK_TESTS += tools/build/install-test.sh
