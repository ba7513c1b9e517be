namespace IlgpuDiffusion.Ilgpu.Kernels;

/// <summary>
/// The items of a batched tensor-core GEMM launch: grid z holds one product per item (a batched launch never splits k).
/// Item z is number n = <paramref name="First"/> + z of a sequence counted as (n / <paramref name="Heads"/>,
/// n mod <paramref name="Heads"/>), e.g. the (sequence, head) pairs of multi-head attention, so an operand's item may sit
/// in a tensor of interleaved heads (<see cref="BatchOffsets"/>). An unbatched launch is <see cref="None"/>.
/// </summary>
internal readonly record struct GemmBatch(int First, int Heads, BatchOffsets A, BatchOffsets B, BatchOffsets C)
{
    /// <summary>A launch of one product: every offset 0.</summary>
    public static GemmBatch None => new(0, 1, default, default, default);

    /// <summary>Where item <paramref name="z"/> of the operand laid out as <paramref name="offsets"/> starts.</summary>
    public long Offset(in BatchOffsets offsets, int z)
    {
        int n = First + z, outer = n / Heads;
        return (long)outer * offsets.Outer + (long)(n - outer * Heads) * offsets.Inner + (long)z * offsets.Item;
    }
}

/// <summary>Elements from one item of an operand to the next, along each count of <see cref="GemmBatch"/>.</summary>
/// <param name="Outer">Per step of n / Heads (e.g. a sequence).</param>
/// <param name="Inner">Per step of n mod Heads (e.g. a head within a sequence).</param>
/// <param name="Item">Per item of the launch (a scratch holding only the launch's items).</param>
internal readonly record struct BatchOffsets(int Outer, int Inner, int Item);
