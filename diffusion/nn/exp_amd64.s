#include "textflag.h"

// Constants of expAVX2 (Cephes expf), each broadcast to 8 lanes.
DATA expHi<>+0(SB)/4, $0x42b0c0a5
DATA expHi<>+4(SB)/4, $0x42b0c0a5
DATA expHi<>+8(SB)/4, $0x42b0c0a5
DATA expHi<>+12(SB)/4, $0x42b0c0a5
DATA expHi<>+16(SB)/4, $0x42b0c0a5
DATA expHi<>+20(SB)/4, $0x42b0c0a5
DATA expHi<>+24(SB)/4, $0x42b0c0a5
DATA expHi<>+28(SB)/4, $0x42b0c0a5
GLOBL expHi<>(SB), RODATA|NOPTR, $32
DATA expLo<>+0(SB)/4, $0xc2b0c0a5
DATA expLo<>+4(SB)/4, $0xc2b0c0a5
DATA expLo<>+8(SB)/4, $0xc2b0c0a5
DATA expLo<>+12(SB)/4, $0xc2b0c0a5
DATA expLo<>+16(SB)/4, $0xc2b0c0a5
DATA expLo<>+20(SB)/4, $0xc2b0c0a5
DATA expLo<>+24(SB)/4, $0xc2b0c0a5
DATA expLo<>+28(SB)/4, $0xc2b0c0a5
GLOBL expLo<>(SB), RODATA|NOPTR, $32
DATA expLog2e<>+0(SB)/4, $0x3fb8aa3b
DATA expLog2e<>+4(SB)/4, $0x3fb8aa3b
DATA expLog2e<>+8(SB)/4, $0x3fb8aa3b
DATA expLog2e<>+12(SB)/4, $0x3fb8aa3b
DATA expLog2e<>+16(SB)/4, $0x3fb8aa3b
DATA expLog2e<>+20(SB)/4, $0x3fb8aa3b
DATA expLog2e<>+24(SB)/4, $0x3fb8aa3b
DATA expLog2e<>+28(SB)/4, $0x3fb8aa3b
GLOBL expLog2e<>(SB), RODATA|NOPTR, $32
DATA expHalf<>+0(SB)/4, $0x3f000000
DATA expHalf<>+4(SB)/4, $0x3f000000
DATA expHalf<>+8(SB)/4, $0x3f000000
DATA expHalf<>+12(SB)/4, $0x3f000000
DATA expHalf<>+16(SB)/4, $0x3f000000
DATA expHalf<>+20(SB)/4, $0x3f000000
DATA expHalf<>+24(SB)/4, $0x3f000000
DATA expHalf<>+28(SB)/4, $0x3f000000
GLOBL expHalf<>(SB), RODATA|NOPTR, $32
DATA expC1<>+0(SB)/4, $0x3f318000
DATA expC1<>+4(SB)/4, $0x3f318000
DATA expC1<>+8(SB)/4, $0x3f318000
DATA expC1<>+12(SB)/4, $0x3f318000
DATA expC1<>+16(SB)/4, $0x3f318000
DATA expC1<>+20(SB)/4, $0x3f318000
DATA expC1<>+24(SB)/4, $0x3f318000
DATA expC1<>+28(SB)/4, $0x3f318000
GLOBL expC1<>(SB), RODATA|NOPTR, $32
DATA expC2<>+0(SB)/4, $0xb95e8083
DATA expC2<>+4(SB)/4, $0xb95e8083
DATA expC2<>+8(SB)/4, $0xb95e8083
DATA expC2<>+12(SB)/4, $0xb95e8083
DATA expC2<>+16(SB)/4, $0xb95e8083
DATA expC2<>+20(SB)/4, $0xb95e8083
DATA expC2<>+24(SB)/4, $0xb95e8083
DATA expC2<>+28(SB)/4, $0xb95e8083
GLOBL expC2<>(SB), RODATA|NOPTR, $32
DATA expP0<>+0(SB)/4, $0x39506967
DATA expP0<>+4(SB)/4, $0x39506967
DATA expP0<>+8(SB)/4, $0x39506967
DATA expP0<>+12(SB)/4, $0x39506967
DATA expP0<>+16(SB)/4, $0x39506967
DATA expP0<>+20(SB)/4, $0x39506967
DATA expP0<>+24(SB)/4, $0x39506967
DATA expP0<>+28(SB)/4, $0x39506967
GLOBL expP0<>(SB), RODATA|NOPTR, $32
DATA expP1<>+0(SB)/4, $0x3ab743ce
DATA expP1<>+4(SB)/4, $0x3ab743ce
DATA expP1<>+8(SB)/4, $0x3ab743ce
DATA expP1<>+12(SB)/4, $0x3ab743ce
DATA expP1<>+16(SB)/4, $0x3ab743ce
DATA expP1<>+20(SB)/4, $0x3ab743ce
DATA expP1<>+24(SB)/4, $0x3ab743ce
DATA expP1<>+28(SB)/4, $0x3ab743ce
GLOBL expP1<>(SB), RODATA|NOPTR, $32
DATA expP2<>+0(SB)/4, $0x3c088908
DATA expP2<>+4(SB)/4, $0x3c088908
DATA expP2<>+8(SB)/4, $0x3c088908
DATA expP2<>+12(SB)/4, $0x3c088908
DATA expP2<>+16(SB)/4, $0x3c088908
DATA expP2<>+20(SB)/4, $0x3c088908
DATA expP2<>+24(SB)/4, $0x3c088908
DATA expP2<>+28(SB)/4, $0x3c088908
GLOBL expP2<>(SB), RODATA|NOPTR, $32
DATA expP3<>+0(SB)/4, $0x3d2aa9c1
DATA expP3<>+4(SB)/4, $0x3d2aa9c1
DATA expP3<>+8(SB)/4, $0x3d2aa9c1
DATA expP3<>+12(SB)/4, $0x3d2aa9c1
DATA expP3<>+16(SB)/4, $0x3d2aa9c1
DATA expP3<>+20(SB)/4, $0x3d2aa9c1
DATA expP3<>+24(SB)/4, $0x3d2aa9c1
DATA expP3<>+28(SB)/4, $0x3d2aa9c1
GLOBL expP3<>(SB), RODATA|NOPTR, $32
DATA expP4<>+0(SB)/4, $0x3e2aaaaa
DATA expP4<>+4(SB)/4, $0x3e2aaaaa
DATA expP4<>+8(SB)/4, $0x3e2aaaaa
DATA expP4<>+12(SB)/4, $0x3e2aaaaa
DATA expP4<>+16(SB)/4, $0x3e2aaaaa
DATA expP4<>+20(SB)/4, $0x3e2aaaaa
DATA expP4<>+24(SB)/4, $0x3e2aaaaa
DATA expP4<>+28(SB)/4, $0x3e2aaaaa
GLOBL expP4<>(SB), RODATA|NOPTR, $32
DATA expP5<>+0(SB)/4, $0x3f000000
DATA expP5<>+4(SB)/4, $0x3f000000
DATA expP5<>+8(SB)/4, $0x3f000000
DATA expP5<>+12(SB)/4, $0x3f000000
DATA expP5<>+16(SB)/4, $0x3f000000
DATA expP5<>+20(SB)/4, $0x3f000000
DATA expP5<>+24(SB)/4, $0x3f000000
DATA expP5<>+28(SB)/4, $0x3f000000
GLOBL expP5<>(SB), RODATA|NOPTR, $32
DATA expOne<>+0(SB)/4, $0x3f800000
DATA expOne<>+4(SB)/4, $0x3f800000
DATA expOne<>+8(SB)/4, $0x3f800000
DATA expOne<>+12(SB)/4, $0x3f800000
DATA expOne<>+16(SB)/4, $0x3f800000
DATA expOne<>+20(SB)/4, $0x3f800000
DATA expOne<>+24(SB)/4, $0x3f800000
DATA expOne<>+28(SB)/4, $0x3f800000
GLOBL expOne<>(SB), RODATA|NOPTR, $32
DATA exp127<>+0(SB)/4, $0x0000007f
DATA exp127<>+4(SB)/4, $0x0000007f
DATA exp127<>+8(SB)/4, $0x0000007f
DATA exp127<>+12(SB)/4, $0x0000007f
DATA exp127<>+16(SB)/4, $0x0000007f
DATA exp127<>+20(SB)/4, $0x0000007f
DATA exp127<>+24(SB)/4, $0x0000007f
DATA exp127<>+28(SB)/4, $0x0000007f
GLOBL exp127<>(SB), RODATA|NOPTR, $32

// func expAVX2(dst, src *float32, n int, scale float32)
//
// dst[i] = exp(scale·src[i]) for i < n, n a multiple of 8: Cephes' expf
// (range reduction by ln 2 split in two, a degree-5 polynomial, 2^n by
// exponent bits), ≤ 2 ulp on [−87, 88]. Arguments are clamped to
// ±88.376 (so exp(−∞) is 0 and exp(+∞) is 2.4e38); NaN stays NaN.
TEXT ·expAVX2(SB), NOSPLIT, $0-28
	MOVQ         dst+0(FP), DI
	MOVQ         src+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSS scale+24(FP), Y15
	VMOVUPS      expHi<>(SB), Y13
	VMOVUPS      expLo<>(SB), Y14
	SHRQ         $3, CX
	JZ           expdone

exploop:
	VMULPS       (SI), Y15, Y0
	VMINPS       Y0, Y13, Y0 // NaN in Y0 is kept: MINPS returns its second source then
	VMAXPS       Y0, Y14, Y0
	VMOVUPS      expLog2e<>(SB), Y1
	VFMADD213PS  expHalf<>(SB), Y0, Y1 // fx = x·log2(e) + ½
	VROUNDPS     $1, Y1, Y1            // fx = ⌊fx⌋
	VFNMADD231PS expC1<>(SB), Y1, Y0   // x −= fx·C1
	VFNMADD231PS expC2<>(SB), Y1, Y0   // x −= fx·C2
	VMULPS       Y0, Y0, Y2            // z = x²
	VMOVUPS      expP0<>(SB), Y3
	VFMADD213PS  expP1<>(SB), Y0, Y3
	VFMADD213PS  expP2<>(SB), Y0, Y3
	VFMADD213PS  expP3<>(SB), Y0, Y3
	VFMADD213PS  expP4<>(SB), Y0, Y3
	VFMADD213PS  expP5<>(SB), Y0, Y3
	VFMADD213PS  Y0, Y2, Y3            // y = y·z + x
	VADDPS       expOne<>(SB), Y3, Y3  // y += 1
	VCVTTPS2DQ   Y1, Y4
	VPADDD       exp127<>(SB), Y4, Y4
	VPSLLD       $23, Y4, Y4           // 2^fx
	VMULPS       Y4, Y3, Y3
	VMOVUPS      Y3, (DI)
	ADDQ         $32, SI
	ADDQ         $32, DI
	DECQ         CX
	JNZ          exploop

expdone:
	VZEROUPPER
	RET

// func adamwAVX2(pp, gg, mm, vv *float32, n int, k *[8]float32)
//
// One AdamW step over n elements (a multiple of 8) with the scalars
// k = [β1, 1−β1, β2, 1−β2, decay = 1 − lr·wd, step = lr/bc1, √bc2, eps]:
//   m = β1·m + (1−β1)·g,  v = β2·v + (1−β2)·g·g,
//   p = p·decay − step·m/(√v/√bc2 + eps)
// with the operations and roundings of the scalar Go loop (no FMA), so
// vector and scalar elements agree bit for bit.
TEXT ·adamwAVX2(SB), NOSPLIT, $0-48
	MOVQ         pp+0(FP), DI
	MOVQ         gg+8(FP), SI
	MOVQ         mm+16(FP), R8
	MOVQ         vv+24(FP), R9
	MOVQ         n+32(FP), CX
	MOVQ         k+40(FP), AX
	VBROADCASTSS 0(AX), Y8   // β1
	VBROADCASTSS 4(AX), Y9   // 1−β1
	VBROADCASTSS 8(AX), Y10  // β2
	VBROADCASTSS 12(AX), Y11 // 1−β2
	VBROADCASTSS 16(AX), Y12 // decay
	VBROADCASTSS 20(AX), Y13 // step
	VBROADCASTSS 24(AX), Y14 // √bc2
	VBROADCASTSS 28(AX), Y15 // eps
	SHRQ         $3, CX
	JZ           adamdone

adamloop:
	VMOVUPS (SI), Y0      // g
	VMULPS  (R8), Y8, Y1  // β1·m
	VMULPS  Y0, Y9, Y2    // (1−β1)·g
	VADDPS  Y2, Y1, Y1    // m
	VMOVUPS Y1, (R8)
	VMULPS  (R9), Y10, Y3 // β2·v
	VMULPS  Y0, Y11, Y4   // (1−β2)·g
	VMULPS  Y0, Y4, Y4    // ·g
	VADDPS  Y4, Y3, Y3    // v
	VMOVUPS Y3, (R9)
	VSQRTPS Y3, Y3
	VDIVPS  Y14, Y3, Y3   // √v/√bc2
	VADDPS  Y15, Y3, Y3   // + eps
	VMULPS  Y1, Y13, Y5   // step·m
	VDIVPS  Y3, Y5, Y5    // step·m/denom
	VMULPS  (DI), Y12, Y6 // p·decay
	VSUBPS  Y5, Y6, Y6
	VMOVUPS Y6, (DI)
	ADDQ    $32, DI
	ADDQ    $32, SI
	ADDQ    $32, R8
	ADDQ    $32, R9
	DECQ    CX
	JNZ     adamloop

adamdone:
	VZEROUPPER
	RET

DATA tanhOne<>+0(SB)/4, $0x3f800000
GLOBL tanhOne<>(SB), RODATA|NOPTR, $4
DATA tanhTwo<>+0(SB)/4, $0x40000000
GLOBL tanhTwo<>(SB), RODATA|NOPTR, $4

// func tanhFromExpAVX2(x *float32, n int)
//
// x[i] = 1 − 2/(x[i] + 1) for i < n, n a positive multiple of 8: tanh(u)
// from x = exp(2u), 8 lanes at a time (IEEE division, so the bits of the
// scalar formula).
TEXT ·tanhFromExpAVX2(SB), NOSPLIT, $0-16
	MOVQ         x+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSS tanhOne<>(SB), Y1
	VBROADCASTSS tanhTwo<>(SB), Y2
tanhloop:
	VMOVUPS (SI), Y0
	VADDPS  Y1, Y0, Y0
	VDIVPS  Y0, Y2, Y0
	VSUBPS  Y0, Y1, Y0
	VMOVUPS Y0, (SI)
	ADDQ    $32, SI
	SUBQ    $8, CX
	JNE     tanhloop
	VZEROUPPER
	RET

// func axpyAVX2(y, x *float32, n int, a float32)
//
// y[i] += a·x[i] for i < n, n a positive multiple of 8, as separate
// multiply and add (so the bits of the scalar loop).
TEXT ·axpyAVX2(SB), NOSPLIT, $0-28
	MOVQ         y+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSS a+24(FP), Y2
axpyloop:
	VMULPS  (SI), Y2, Y0
	VADDPS  (DI), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	SUBQ    $8, CX
	JNE     axpyloop
	VZEROUPPER
	RET

// func maxAVX2(x *float32, n int) float32
//
// The largest of x[0..n−1], n a positive multiple of 8 (VMAXPS: a NaN
// lane yields the other operand).
TEXT ·maxAVX2(SB), NOSPLIT, $0-20
	MOVQ    x+0(FP), SI
	MOVQ    n+8(FP), CX
	VMOVUPS (SI), Y0
	ADDQ    $32, SI
	SUBQ    $8, CX
	JE      maxreduce
maxloop:
	VMAXPS (SI), Y0, Y0
	ADDQ   $32, SI
	SUBQ   $8, CX
	JNE    maxloop
maxreduce:
	VEXTRACTF128 $1, Y0, X1
	VMAXPS       X1, X0, X0
	VPERMILPS    $0x4e, X0, X1
	VMAXPS       X1, X0, X0
	VPERMILPS    $0xb1, X0, X1
	VMAXPS       X1, X0, X0
	VMOVSS       X0, ret+16(FP)
	VZEROUPPER
	RET
