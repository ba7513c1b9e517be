using ILGPU;
using ILGPU.Runtime;

namespace IlgpuDiffusion.Ilgpu.Kernels;

// The products of one stage on tensor cores (CUDA only; the emulation reads the stage element by element): TF32
// fragments in two k-steps of 8, BF16 fragments of packed pairs in two k-steps of 16. Fragments load with ldmatrix
// (one instruction for an A fragment or two B fragments) except TF32 ones of an operand whose lines are contiguous,
// whose B fragments load as one 8-byte pair each and A fragments word by word.
internal static partial class TensorCoreGemmKernels
{
    /// <summary>
    /// Where a lane reads its fragments within a stage, as words past the stage's start: its first element (warp line + g,
    /// k t) for word-by-word loads, and its row of the first <see cref="Mma.LoadMatrices"/> (see <see cref="MatrixWord"/>);
    /// every other fragment is a constant offset away.
    /// </summary>
    private readonly struct FragmentPlaces
    {
        private readonly int _elementA, _elementB;
        private readonly uint _matrixA, _matrixB;

        public FragmentPlaces(int elementA, int elementB, int matrixA, int matrixB, uint sharedBase)
            : this(elementA, elementB, sharedBase + 4u * (uint)matrixA, sharedBase + 4u * (uint)matrixB)
        {
        }

        private FragmentPlaces(int elementA, int elementB, uint matrixA, uint matrixB) =>
            (_elementA, _elementB, _matrixA, _matrixB) = (elementA, elementB, matrixA, matrixB);

        /// <summary>The places <paramref name="words"/> further on (the next stage's).</summary>
        public FragmentPlaces Moved(int words) =>
            new(_elementA + words, _elementB + words, _matrixA + 4u * (uint)words, _matrixB + 4u * (uint)words);

        /// <summary>The places in the stage that starts at word <paramref name="stage"/> of <paramref name="shared"/>.</summary>
        public StageFragments Of(ArrayView<float> shared, int stage)
        {
            uint stageBytes = 4u * (uint)stage;
            return new StageFragments(shared.SubView(stage + _elementA), shared.SubView(stage + _elementB),
                _matrixA + stageBytes, _matrixB + stageBytes);
        }
    }

    /// <summary>
    /// One stage's places for one lane: <see cref="A"/> and <see cref="B"/> at its first elements of op(a) and op(b),
    /// <see cref="MatrixA"/> and <see cref="MatrixB"/> the shared addresses of its ldmatrix rows.
    /// </summary>
    private readonly struct StageFragments(ArrayView<float> a, ArrayView<float> b, uint matrixA, uint matrixB)
    {
        public ArrayView<float> A { get; } = a;

        public ArrayView<float> B { get; } = b;

        public uint MatrixA { get; } = matrixA;

        public uint MatrixB { get; } = matrixB;
    }

    /// <summary>
    /// A lane's two TF32 values of one line at k and k + 4, adjacent in a line-contiguous stage (<see cref="StageWord"/>):
    /// one 8-byte shared read.
    /// </summary>
    private readonly struct Tf32Pair(float low, float high)
    {
        public readonly float Low = low, High = high;

        /// <summary>The pair <paramref name="word"/> words past <paramref name="first"/> (an even word: 8-byte aligned).</summary>
        public static Tf32Pair At(ArrayView<float> first, int word) => first.Cast<Tf32Pair>().AsAligned(8)[word >> 1];
    }

    /// <summary>Bytes from a stage's element (0, 0) to element (line, k) of an operand: the offset of a fragment's load.</summary>
    private static uint Bytes(int line, int k, bool kContiguous, bool bf16) => 4u * (uint)StageWord(line, k, kContiguous, bf16);

    /// <summary>Two TF32 k-steps of 8 per stage, on inputs rounded to TF32 when staged.</summary>
    private readonly struct Tf32Products : IProducts
    {
        public bool Bf16 => false;

        public bool Copies => false;

        public int Blocks => 1;

        public WarpAccumulators Accumulate(WarpAccumulators w, in StageFragments s, bool aK, bool bK)
        {
            w = Step(w, s, aK, bK, 0);
            return Step(w, s, aK, bK, 8);
        }

        private static WarpAccumulators Step(WarpAccumulators w, in StageFragments s, bool aK, bool bK, int k)
        {
            MmaValuesA a0 = LoadA(s, aK, 0, k), a1 = LoadA(s, aK, 16, k), a2 = LoadA(s, aK, 32, k), a3 = LoadA(s, aK, 48, k);
            var (b0, b1) = LoadB(s, bK, 0, k);
            var (b2, b3) = LoadB(s, bK, 16, k);
            Mma.Tf32Row(ref w.F00, ref w.F01, ref w.F02, ref w.F03, a0, b0, b1, b2, b3);
            Mma.Tf32Row(ref w.F10, ref w.F11, ref w.F12, ref w.F13, a1, b0, b1, b2, b3);
            Mma.Tf32Row(ref w.F20, ref w.F21, ref w.F22, ref w.F23, a2, b0, b1, b2, b3);
            Mma.Tf32Row(ref w.F30, ref w.F31, ref w.F32, ref w.F33, a3, b0, b1, b2, b3);
            return w;
        }

        /// <summary>
        /// The A fragment of rows <paramref name="row"/>.., k <paramref name="k"/>..: one ldmatrix where k is contiguous,
        /// else register r at the offsets that <see cref="Mma.ARow"/> and <see cref="Mma.Tf32AK"/> give lane 0.
        /// </summary>
        private static MmaValuesA LoadA(in StageFragments s, bool aK, int row, int k)
        {
            if (aK)
            {
                MmaA m = Mma.LoadMatrices(s.MatrixA + Bytes(row, k, true, false)).A;
                return new MmaValuesA
                {
                    V0 = Interop.IntAsFloat(m.A0),
                    V1 = Interop.IntAsFloat(m.A1),
                    V2 = Interop.IntAsFloat(m.A2),
                    V3 = Interop.IntAsFloat(m.A3),
                };
            }
            // Word by word: 8-byte reads of the (k, k + 4) pairs would put registers 0 and 2 side by side, where the mma
            // takes 0 and 1, and the register moves would cost more than they save.
            return new MmaValuesA
            {
                V0 = s.A[StageWord(row + Mma.ARow(0, 0), k + Mma.Tf32AK(0, 0), false, false)],
                V1 = s.A[StageWord(row + Mma.ARow(0, 1), k + Mma.Tf32AK(0, 1), false, false)],
                V2 = s.A[StageWord(row + Mma.ARow(0, 2), k + Mma.Tf32AK(0, 2), false, false)],
                V3 = s.A[StageWord(row + Mma.ARow(0, 3), k + Mma.Tf32AK(0, 3), false, false)],
            };
        }

        /// <summary>
        /// The B fragments of columns <paramref name="col"/>.. and <paramref name="col"/> + 8..: one ldmatrix where k is
        /// contiguous, else an 8-byte read each of the interleaved stage (<see cref="StageWord"/>).
        /// </summary>
        private static (MmaValuesB, MmaValuesB) LoadB(in StageFragments s, bool bK, int col, int k)
        {
            if (bK)
            {
                var (low, high) = Mma.LoadMatrices(s.MatrixB + Bytes(col, k, true, false)).B;
                return (Values(low), Values(high));
            }
            return (LoadB(s.B, col, k), LoadB(s.B, col + 8, k));
        }

        /// <summary>Registers 0 and 1 (k t and t + 4 of column g): one 8-byte read.</summary>
        private static MmaValuesB LoadB(ArrayView<float> b, int col, int k)
        {
            Tf32Pair pair = Tf32Pair.At(b, StageWord(col, k, false, false));
            return new MmaValuesB { V0 = pair.Low, V1 = pair.High };
        }

        private static MmaValuesB Values(MmaB b) => new() { V0 = Interop.IntAsFloat(b.B0), V1 = Interop.IntAsFloat(b.B1) };
    }

    /// <summary>Two BF16 k-steps of 16 per stage, on pairs packed when staged: six ldmatrix for 16 products each.</summary>
    private readonly struct Bf16Products : IProducts
    {
        public bool Bf16 => true;

        public bool Copies => false;

        public int Blocks => 1;

        public WarpAccumulators Accumulate(WarpAccumulators w, in StageFragments s, bool aK, bool bK)
        {
            w = Step(w, s, aK, bK, 0);
            return Step(w, s, aK, bK, 16);
        }

        private static WarpAccumulators Step(WarpAccumulators w, in StageFragments s, bool aK, bool bK, int k)
        {
            MmaA a0 = LoadA(s, aK, 0, k), a1 = LoadA(s, aK, 16, k), a2 = LoadA(s, aK, 32, k), a3 = LoadA(s, aK, 48, k);
            var (b0, b1) = Load(s.MatrixB + Bytes(0, k, bK, true), bK).B;
            var (b2, b3) = Load(s.MatrixB + Bytes(16, k, bK, true), bK).B;
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

        /// <summary>The A fragment of rows <paramref name="row"/>.., k <paramref name="k"/>...</summary>
        private static MmaA LoadA(in StageFragments s, bool aK, int row, int k) => Load(s.MatrixA + Bytes(row, k, aK, true), aK).A;

        /// <summary>Four matrices: rows of pairs along k where k is contiguous, else transposed from rows along the lines.</summary>
        private static LoadedMatrices Load(uint address, bool kContiguous) =>
            kContiguous ? Mma.LoadMatrices(address) : Mma.LoadMatricesTransposed(address);
    }
}
