/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A program whose .xo section is a PT_LOAD with PF_X only: it calls into
 * that segment, then loads a byte from it. Exit 0: both worked (memory
 * readable); exit 2: the call returned the wrong value. Under XO the load
 * is the one access that faults: SIGSEGV with si_addr = xo_data.
 */
	.text
	.globl	_start
_start:
	call	xo_func
	cmp	$0x600df00d, %eax
	jne	bad
	movzbl	xo_data(%rip), %eax
	cmp	$0x5a, %eax
	jne	bad
	mov	$60, %eax
	xor	%edi, %edi
	syscall
bad:
	mov	$60, %eax
	mov	$2, %edi
	syscall

	.section .xo, "ax"
	.globl	xo_func, xo_data
xo_func:
	mov	$0x600df00d, %eax
	ret
	.byte	0x90, 0x90
xo_data:
	.byte	0x5a

	.section .note.GNU-stack, "", @progbits
