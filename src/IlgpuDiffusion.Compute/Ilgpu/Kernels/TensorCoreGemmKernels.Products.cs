using ILGPU;

namespace IlgpuDiffusion.Ilgpu.Kernels;

// The products of one stage on tensor cores (CUDA only; the emulation reads the stage element by element): TF32
// fragments two k-steps of 8 at a time, BF16 fragments of packed pairs one k-step of 16.
internal static partial class TensorCoreGemmKernels
{
    /// <summary>Two TF32 k-steps of 8 per stage, on inputs rounded to TF32 when staged.</summary>
    private readonly struct Tf32Products : IProducts
    {
        public bool Bf16 => false;

        public WarpAccumulators Accumulate(WarpAccumulators w, ArrayView<float> a, ArrayView<float> b, bool aK, bool bK)
        {
            w = Step(w, a, b, aK, bK, 0);
            return Step(w, a, b, aK, bK, 8);
        }

        private static WarpAccumulators Step(WarpAccumulators w, ArrayView<float> a, ArrayView<float> b, bool aK, bool bK, int k)
        {
            MmaValuesA a0 = LoadA(a, aK, 0, k), a1 = LoadA(a, aK, 16, k), a2 = LoadA(a, aK, 32, k), a3 = LoadA(a, aK, 48, k);
            MmaValuesB b0 = LoadB(b, bK, 0, k), b1 = LoadB(b, bK, 8, k), b2 = LoadB(b, bK, 16, k), b3 = LoadB(b, bK, 24, k);
            Mma.Tf32Row(ref w.F00, ref w.F01, ref w.F02, ref w.F03, a0, b0, b1, b2, b3);
            Mma.Tf32Row(ref w.F10, ref w.F11, ref w.F12, ref w.F13, a1, b0, b1, b2, b3);
            Mma.Tf32Row(ref w.F20, ref w.F21, ref w.F22, ref w.F23, a2, b0, b1, b2, b3);
            Mma.Tf32Row(ref w.F30, ref w.F31, ref w.F32, ref w.F33, a3, b0, b1, b2, b3);
            return w;
        }

        /// <summary>
        /// The A fragment of rows <paramref name="row"/>.., k <paramref name="k"/>.. past the lane's base (g, t): register r
        /// at the offsets that <see cref="Mma.ARow"/> and <see cref="Mma.Tf32AK"/> give lane 0 (the layout the tests check).
        /// </summary>
        private static MmaValuesA LoadA(ArrayView<float> a, bool aK, int row, int k) => new()
        {
            V0 = a[(row + Mma.ARow(0, 0)) * LineStride(aK, false) + (k + Mma.Tf32AK(0, 0)) * KStride(aK)],
            V1 = a[(row + Mma.ARow(0, 1)) * LineStride(aK, false) + (k + Mma.Tf32AK(0, 1)) * KStride(aK)],
            V2 = a[(row + Mma.ARow(0, 2)) * LineStride(aK, false) + (k + Mma.Tf32AK(0, 2)) * KStride(aK)],
            V3 = a[(row + Mma.ARow(0, 3)) * LineStride(aK, false) + (k + Mma.Tf32AK(0, 3)) * KStride(aK)],
        };

        /// <summary>The B fragment of columns <paramref name="col"/>.. past the lane's base: B1 is <see cref="Mma.Tf32BK"/>
        /// further along k.</summary>
        private static MmaValuesB LoadB(ArrayView<float> b, bool bK, int col, int k) => new()
        {
            V0 = b[col * LineStride(bK, false) + (k + Mma.Tf32BK(0, 0)) * KStride(bK)],
            V1 = b[col * LineStride(bK, false) + (k + Mma.Tf32BK(0, 1)) * KStride(bK)],
        };
    }

    /// <summary>One BF16 k-step of 16 per stage, on pairs packed when staged: one shared load per fragment register.</summary>
    private readonly struct Bf16Products : IProducts
    {
        public bool Bf16 => true;

        public WarpAccumulators Accumulate(WarpAccumulators w, ArrayView<float> a, ArrayView<float> b, bool aK, bool bK)
        {
            ArrayView<uint> aPairs = a.Cast<uint>(), bPairs = b.Cast<uint>();
            MmaA a0 = LoadA(aPairs, aK, 0), a1 = LoadA(aPairs, aK, 16), a2 = LoadA(aPairs, aK, 32), a3 = LoadA(aPairs, aK, 48);
            MmaB b0 = LoadB(bPairs, bK, 0), b1 = LoadB(bPairs, bK, 8), b2 = LoadB(bPairs, bK, 16), b3 = LoadB(bPairs, bK, 24);
            Row(ref w.F00, ref w.F01, ref w.F02, ref w.F03, a0, b0, b1, b2, b3);
            Row(ref w.F10, ref w.F11, ref w.F12, ref w.F13, a1, b0, b1, b2, b3);
            Row(ref w.F20, ref w.F21, ref w.F22, ref w.F23, a2, b0, b1, b2, b3);
            Row(ref w.F30, ref w.F31, ref w.F32, ref w.F33, a3, b0, b1, b2, b3);
            return w;
        }

        private static void Row(ref MmaAccumulator c0, ref MmaAccumulator c1, ref MmaAccumulator c2, ref MmaAccumulator c3, in MmaA a,
            in MmaB b0, in MmaB b1, in MmaB b2, in MmaB b3)
        {
            Mma.Bf16(ref c0, a, b0);
            Mma.Bf16(ref c1, a, b1);
            Mma.Bf16(ref c2, a, b2);
            Mma.Bf16(ref c3, a, b3);
        }

        /// <summary>
        /// The A fragment of rows <paramref name="row"/>.. past the lane's base (g, pair t): register r at the offsets that
        /// <see cref="Mma.ARow"/> and <see cref="Mma.Bf16AK"/> give lane 0, in pairs of k.
        /// </summary>
        private static MmaA LoadA(ArrayView<uint> a, bool aK, int row) => new()
        {
            A0 = a[(row + Mma.ARow(0, 0)) * LineStride(aK, true) + Mma.Bf16AK(0, 0) / 2 * KStride(aK)],
            A1 = a[(row + Mma.ARow(0, 1)) * LineStride(aK, true) + Mma.Bf16AK(0, 1) / 2 * KStride(aK)],
            A2 = a[(row + Mma.ARow(0, 2)) * LineStride(aK, true) + Mma.Bf16AK(0, 2) / 2 * KStride(aK)],
            A3 = a[(row + Mma.ARow(0, 3)) * LineStride(aK, true) + Mma.Bf16AK(0, 3) / 2 * KStride(aK)],
        };

        /// <summary>The B fragment of columns <paramref name="col"/>.. past the lane's base: B1 is <see cref="Mma.Bf16BK"/>
        /// further along k, in pairs.</summary>
        private static MmaB LoadB(ArrayView<uint> b, bool bK, int col) => new()
        {
            B0 = b[col * LineStride(bK, true) + Mma.Bf16BK(0, 0) / 2 * KStride(bK)],
            B1 = b[col * LineStride(bK, true) + Mma.Bf16BK(0, 1) / 2 * KStride(bK)],
        };
    }
}
