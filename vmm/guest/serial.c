/*
 * serial.c - COM1 for ring 0's own few words (FAULT, panic).
 *
 * Ring 3's output goes out through SYS_PUTS (syscall.S) with the same
 * single `rep outsb`.  The UART is programmed once: interrupts off, FIFO
 * off (QEMU's 16550 drops the oldest byte when its FIFO overflows, but
 * with the FIFO off it hands every byte straight to its backend), 8N1.
 * Baud rate is meaningless on a virtual UART and is left alone.
 */
#include "kernel.h"

#define UART_IER 1
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4

void
ser_init(void)
{
	outb(COM1 + UART_IER, 0);
	outb(COM1 + UART_FCR, 0);
	outb(COM1 + UART_LCR, 0x03); /* 8 data bits, no parity, 1 stop */
	outb(COM1 + UART_MCR, 0x03); /* DTR, RTS */
}

void
ser_write(const char *s, size_t n)
{
	__asm__ volatile("rep outsb"
	                 : "+S"(s), "+c"(n)
	                 : "d"((uint16_t)COM1)
	                 : "memory");
}

void
ser_puts(const char *s)
{
	size_t n = 0;

	while (s[n] != '\0')
		n++;
	ser_write(s, n);
}

void
ser_hex(uint64_t v)
{
	char buf[18];
	int i = sizeof(buf);

	do {
		buf[--i] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v != 0);
	buf[--i] = 'x';
	buf[--i] = '0';
	ser_write(buf + i, sizeof(buf) - i);
}

void
ser_dec(uint64_t v)
{
	char buf[20];
	int i = sizeof(buf);

	do {
		buf[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	ser_write(buf + i, sizeof(buf) - i);
}
