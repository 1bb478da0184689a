# xo-kvm: execute-only memory for KVM guests. Every target is a script in
# scripts/; see README.md.
S := scripts

.PHONY: help demo check deps sources trees kernel qemu tests initramfs run \
	bochs kvm-selftests kvm-host kvm-l2 run-bochs check-kvm check-kvm-l2 check-migration soak bench \
	deb distro-image check-distro \
	export check-series check-patches check-static kselftest check-bisect unit-tests clean distclean

help:
	@echo "make demo           build everything, boot the XO guest, run the suite"
	@echo "make check          run every test (host unit tests, patches, builds, guests)"
	@echo "make check ARGS='STEP...'          only those steps (scripts/check --list)"
	@echo "make deps           install the Debian packages (root) or print the apt-get line"
	@echo "make sources        download and verify the pinned Linux and QEMU sources"
	@echo "make trees          materialize work/linux and work/qemu (base + series)"
	@echo "make kernel|qemu|tests|initramfs   build one part"
	@echo "make run ARGS='--no-xo ...'        boot the guest (scripts/run-guest --help)"
	@echo "make bochs|kvm-selftests|kvm-host|kvm-l2  build Bochs, the KVM selftests, the L1 host initramfs, its L2 layer"
	@echo "make run-bochs ARGS='--only ...'   boot the kernel as the L1 KVM host in Bochs (scripts/run-bochs --help)"
	@echo "make check-kvm      KVM selftests in the L1 host in Bochs, and the L2 guests (part of make check)"
	@echo "make check-kvm-l2   the XO guest under QEMU -accel kvm as an L2 of the Bochs L1 host (part of check-kvm)"
	@echo "make check-migration  live migration of the XO guest under TCG (part of make check)"
	@echo "make soak DURATION=30  trinity, stress-ng and the XO keeper in the +xo guest for DURATION min (ARGS='--seed N ...', scripts/soak --help)"
	@echo "make bench          XO's cost as ratios: build/bench/results.md, .csv, ratios.png (ARGS='--tiny ...', scripts/bench --help)"
	@echo "make deb            the XO kernel for real VMs as Debian packages in build/deb (dpkg -i them in a VM)"
	@echo "make distro-image   the Debian 12 image check-distro boots (mmdebstrap rootfs + make deb's packages)"
	@echo "make check-distro   boot that image, systemd as PID 1, with and without +xo: the suite and PROT_EXEC programs (not in make check)"
	@echo "make export         write the work trees' commits back to patches/, qemu-patches/"
	@echo "make check-series   fail when a series and its work tree's commits differ"
	@echo "make check-patches  series apply to the base and pass checkpatch.pl"
	@echo "make check-static   sparse and W=1 add no warnings to the kernel files the series touches"
	@echo "make kselftest      copy userspace-tests/ into the series' kselftest patch"
	@echo "make check-bisect   build and boot every commit of the series, then KVM_XO=n (~80 min)"
	@echo "make unit-tests     the scripts' host-side unit tests (scripts/tests/run)"
	@echo "make clean          remove build/ (keeps work/ and the download cache)"
	@echo "make distclean      remove build/ and work/ too"
	@echo "make help           this list"

demo:
	$(S)/demo
check:
	$(S)/check $(ARGS)
deps:
	$(S)/install-deps
sources:
	$(S)/fetch-sources
trees:
	$(S)/prepare-tree linux
	$(S)/prepare-tree qemu
kernel:
	$(S)/build-kernel
qemu:
	$(S)/build-qemu
tests:
	$(S)/build-tests
initramfs: tests
	$(S)/build-initramfs
run:
	$(S)/run-guest $(ARGS)
bochs:
	$(S)/build-bochs
kvm-selftests:
	$(S)/build-kvm-selftests
kvm-host: kvm-selftests
	$(S)/build-kvm-host
kvm-l2:
	$(S)/build-kvm-l2
run-bochs:
	$(S)/run-bochs $(ARGS)
check-kvm:
	$(S)/check-kvm
check-kvm-l2:
	$(S)/check-kvm-l2 $(ARGS)
check-migration:
	$(S)/check-migration $(ARGS)
soak:
	$(S)/soak $(if $(DURATION),--duration $(DURATION)) $(ARGS)
bench:
	$(S)/bench $(ARGS)
deb:
	$(S)/build-deb
distro-image:
	$(S)/build-distro-image
check-distro:
	$(S)/check-distro $(ARGS)
export:
	$(S)/export-series linux
	$(S)/export-series qemu
check-series:
	$(S)/check-series linux
	$(S)/check-series qemu
check-patches:
	$(S)/check-patches linux
	$(S)/check-patches qemu

check-static:
	$(S)/check-static
kselftest:
	$(S)/sync-kselftest
check-bisect:
	$(S)/check-bisect
unit-tests:
	$(S)/tests/run
clean:
	rm -rf build
distclean: clean
	rm -rf work
