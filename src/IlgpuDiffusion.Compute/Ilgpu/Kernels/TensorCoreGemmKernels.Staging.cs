using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace IlgpuDiffusion.Ilgpu.Kernels;

// Staging a tile of each operand: a thread's elements loaded from global memory into registers (16-byte loads where
// aligned, else element by element, bounds-checked at the edges), then rounded and stored to its shared stage
// (see TensorCoreGemmKernels.StageWord for the layouts).
internal static partial class TensorCoreGemmKernels
{
    /// <summary>
    /// The <see cref="ElementsPerThread"/> elements of one operand that one thread carries per stage, as quads of four
    /// consecutive ones: its first group in <see cref="First"/> (and, BF16, <see cref="FirstRest"/>), its second in
    /// <see cref="Second"/> (<see cref="SecondRest"/>); see <see cref="Position"/>.
    /// </summary>
    private struct Staged
    {
        public Quad First, FirstRest, Second, SecondRest;
    }

    /// <summary>
    /// This thread's elements of an operand's tile that starts <paramref name="tileK"/> into the split, element 0 at global
    /// index <paramref name="first"/>, as they are in memory: 16-byte loads where all of them lie inside the operand (every
    /// tile but the edges) and <paramref name="vector"/> says the operand is aligned, else one load per element, bounds
    /// checked at the edges (0 outside); a BF16 copy's as <see cref="LoadCopy"/> says. Nothing here reads a loaded value,
    /// so the loads stay in flight through the products the kernel issues before the stage's store rounds
    /// them: rounding here, its NaN test a branch on the values, made every tile wait for its loads before its products.
    /// </summary>
    private static Staged Load<TProducts>(ArrayView<float> x, in OperandCopy copy, long first, int tileK, bool kContiguous,
        bool bf16, int vector)
        where TProducts : struct, IProducts
    {
        if (default(TProducts).Copies) return LoadCopy(x, copy, first, tileK, kContiguous);
        int n = GroupLength(bf16), last = 2 * n - 1;
        bool whole = copy.LinesLeft > LineOffset(last, kContiguous, bf16) && tileK + KOffset(last, kContiguous, bf16) < copy.KLeft;
        Quad firstGroup, secondGroup, firstRest = default, secondRest = default;
        if (whole && vector != 0)
        {
            var groups = x.SubView(first).Cast<Quad>().AsAligned(16);
            int second = copy.GroupStep >> 2;
            (firstGroup, secondGroup) = (groups[0], groups[second]);
            if (bf16) (firstRest, secondRest) = (groups[1], groups[second + 1]);
        }
        else if (whole)
        {
            var view = x.SubView(first); // every element lies inside: 32-bit offsets from here
            (firstGroup, secondGroup) = (Gather(view, copy, 0, n), Gather(view, copy, n, n));
            if (bf16) (firstRest, secondRest) = (Gather(view, copy, 4, n), Gather(view, copy, n + 4, n));
        }
        else
        {
            firstGroup = Edge(x, first, copy, tileK, kContiguous, bf16, 0);
            secondGroup = Edge(x, first, copy, tileK, kContiguous, bf16, n);
            if (bf16)
            {
                firstRest = Edge(x, first, copy, tileK, kContiguous, true, 4);
                secondRest = Edge(x, first, copy, tileK, kContiguous, true, n + 4);
            }
        }
        return new Staged { First = firstGroup, FirstRest = firstRest, Second = secondGroup, SecondRest = secondRest };
    }

    /// <summary>Elements i .. i + 3 of a thread's share of a tile wholly inside the operand, from <paramref name="view"/>.</summary>
    private static Quad Gather(ArrayView<float> view, in OperandCopy copy, int i, int n) => new(view[Offset(copy, i, n)],
        view[Offset(copy, i + 1, n)], view[Offset(copy, i + 2, n)], view[Offset(copy, i + 3, n)]);

    /// <summary>Elements i .. i + 3 of a thread's share of an edge tile, 0 where they lie outside the operand or the split.</summary>
    private static Quad Edge(ArrayView<float> x, long first, in OperandCopy copy, int tileK, bool kContiguous, bool bf16, int i) =>
        new(Element(x, first, copy, tileK, kContiguous, bf16, i), Element(x, first, copy, tileK, kContiguous, bf16, i + 1),
            Element(x, first, copy, tileK, kContiguous, bf16, i + 2), Element(x, first, copy, tileK, kContiguous, bf16, i + 3));

    /// <summary>Element i of a thread's share of an edge tile, or 0 where it lies outside the operand or the split.</summary>
    private static float Element(ArrayView<float> x, long first, in OperandCopy copy, int tileK, bool kContiguous, bool bf16, int i)
    {
        bool inside = LineOffset(i, kContiguous, bf16) < copy.LinesLeft && tileK + KOffset(i, kContiguous, bf16) < copy.KLeft;
        return inside ? x[first + Offset(copy, i, GroupLength(bf16))] : 0f;
    }

    /// <summary>Global offset of element i from element 0's, groups of <paramref name="n"/> (see <see cref="Position"/>).</summary>
    private static int Offset(in OperandCopy copy, int i, int n) => i / n * copy.GroupStep + (i & (n - 1)) * copy.InnerStep;

    /// <summary>
    /// A thread's eight TF32 elements of a tile rounded (once, as they are stored, as BF16 ones are packed in pairs):
    /// where their sum is not a NaN, none of them is one (a NaN makes the sum a NaN), which holds in every
    /// tile of numbers, and each is rounded without its NaN test (<see cref="TensorCoreRounding.NumberTf32"/>: 2
    /// instructions, not 5); else each with it. The same bits either way.
    /// </summary>
    private static (Quad First, Quad Second) Round(Quad first, Quad second)
    {
        float sum = (first.X + first.Y + first.Z + first.W) + (second.X + second.Y + second.Z + second.W);
        if (!float.IsNaN(sum)) return (NumberTf32(first), NumberTf32(second));
        return (Tf32(first), Tf32(second));
    }

    private static Quad NumberTf32(Quad q) => new(TensorCoreRounding.NumberTf32(q.X), TensorCoreRounding.NumberTf32(q.Y),
        TensorCoreRounding.NumberTf32(q.Z), TensorCoreRounding.NumberTf32(q.W));

    private static Quad Tf32(Quad q) =>
        new(TensorCoreRounding.Tf32(q.X), TensorCoreRounding.Tf32(q.Y), TensorCoreRounding.Tf32(q.Z), TensorCoreRounding.Tf32(q.W));

    /// <summary>
    /// Stores a thread's staged elements at <paramref name="at"/> (its first word's place in the stage) in two 16-byte
    /// stores (see <see cref="StageWord"/>): TF32 groups rounded (<see cref="Round"/>), as they are where k is contiguous,
    /// else interleaved (the second group holds the same lines at k + 4); BF16 ones packed in pairs of neighbours along
    /// the group, the first in the low half.
    /// </summary>
    private static void Store<TProducts>(ArrayView<float> at, in Staged staged, bool kContiguous, bool bf16)
        where TProducts : struct, IProducts
    {
        if (default(TProducts).Copies)
        {
            StoreCopy(at, staged, kContiguous);
            return;
        }
        var quads = at.Cast<Quad>().AsAligned(16);
        var (f, s) = bf16 ? (staged.First, staged.Second) : Round(staged.First, staged.Second);
        if (!bf16 && !kContiguous)
        {
            quads[0] = new Quad(f.X, s.X, f.Y, s.Y);
            quads[1] = new Quad(f.Z, s.Z, f.W, s.W);
            return;
        }
        int second = SecondGroupWords(kContiguous, bf16) >> 2;
        if (!bf16)
        {
            quads[0] = f;
            quads[second] = s;
            return;
        }
        quads[0] = Packed(f, staged.FirstRest);
        quads[second] = Packed(s, staged.SecondRest);
    }

    /// <summary>Eight consecutive elements as four words of BF16 pairs.</summary>
    private static Quad Packed(Quad low, Quad high) =>
        new(Pack(low.X, low.Y), Pack(low.Z, low.W), Pack(high.X, high.Y), Pack(high.Z, high.W));

    /// <summary>Two values rounded to BF16 in one word (the bits of a float), <paramref name="low"/> in the low half.</summary>
    private static float Pack(float low, float high) => Interop.IntAsFloat(CudaAsm.IsSupported
        ? Mma.PackBf16(low, high)
        : TensorCoreRounding.Bf16Bits(low) | (TensorCoreRounding.Bf16Bits(high) << 16));
}
