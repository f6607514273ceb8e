# SPDX-License-Identifier: GPL-2.0
# libtcpcp: shared library with soname and version script, static library,
# pkg-config file.

LIB_SRCS := lib/ici.c lib/ici_print.c lib/api.c lib/log.c lib/repair.c lib/repair_create.c \
	    lib/isolate.c lib/native.c
LIB_OBJS := $(LIB_SRCS:%.c=$(O)/%.o)
LIB_PIC_OBJS := $(LIB_SRCS:%.c=$(O)/pic/%.o)
LIB_SO := $(O)/libtcpcp.so.$(VERSION)
LIB_SONAME := libtcpcp.so.$(SOVERSION)
LIB_A := $(O)/libtcpcp.a
LIB_PC := $(O)/libtcpcp.pc
LIB_HDRS := lib/tcpcp.h lib/ici.h lib/internal.h kernel/include/uapi/linux/tcpcp.h

.PHONY: lib
lib: $(LIB_SO) $(LIB_A) $(LIB_PC) $(O)/libtcpcp.so

$(O)/lib/%.o: lib/%.c $(LIB_HDRS) $(wildcard lib/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -fvisibility=hidden -c -o $@ $<

$(O)/pic/lib/%.o: lib/%.c $(LIB_HDRS) $(wildcard lib/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -fPIC -fvisibility=hidden -c -o $@ $<

$(LIB_SO): $(LIB_PIC_OBJS) lib/libtcpcp.map
	$(CC) -shared -Wl,-soname,$(LIB_SONAME) -Wl,--version-script=lib/libtcpcp.map \
		-Wl,--no-undefined -o $@ $(LIB_PIC_OBJS)

$(O)/libtcpcp.so: $(LIB_SO)
	ln -sf libtcpcp.so.$(VERSION) $(O)/$(LIB_SONAME)
	ln -sf libtcpcp.so.$(VERSION) $@

$(LIB_A): $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

$(LIB_PC): lib/libtcpcp.pc.in Makefile
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' $< > $@

install-lib: lib
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)/linux
	install -m 0755 $(LIB_SO) $(DESTDIR)$(LIBDIR)/
	ln -sf libtcpcp.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(LIB_SONAME)
	ln -sf $(LIB_SONAME) $(DESTDIR)$(LIBDIR)/libtcpcp.so
	install -m 0644 $(LIB_A) $(DESTDIR)$(LIBDIR)/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' \
	    lib/libtcpcp.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/libtcpcp.pc
	install -m 0644 lib/tcpcp.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 0644 kernel/include/uapi/linux/tcpcp.h $(DESTDIR)$(INCLUDEDIR)/linux/
