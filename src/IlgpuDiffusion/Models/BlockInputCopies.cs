using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Models;

/// <summary>
/// The copies a device keeps of a transformer block's four linear inputs (<see cref="IKernels.InputCopyLength"/>: BF16
/// copies on tensor cores under bf16): those of the attention's qkv and output projections and of the MLP's up projection,
/// of N rows of D, and of the MLP's down projection, of N rows of its hidden width, which the up projection's GELU
/// epilogue writes in place of the fp32 activation. A training arena holds one set per block where the device keeps
/// copies, and the backward then copies those inputs no second time and computes no GELU again; an inference arena holds
/// one set.
/// </summary>
internal sealed class BlockInputCopies
{
    private static readonly string[] Names = ["qkv_input_copy", "attention_output_input_copy", "mlp_up_input_copy",
        "mlp_down_input_copy"];

    private BlockInputCopies(Arena<float> arena, string prefix)
    {
        Qkv = arena[prefix + Names[0]];
        AttentionOutput = arena[prefix + Names[1]];
        MlpUp = arena[prefix + Names[2]];
        MlpDown = arena[prefix + Names[3]];
    }

    /// <summary>The copy of the qkv projection's input.</summary>
    public Tensor<float> Qkv { get; }

    /// <summary>The copy of the attention output projection's input (the attention's output).</summary>
    public Tensor<float> AttentionOutput { get; }

    /// <summary>The copy of the MLP up projection's input.</summary>
    public Tensor<float> MlpUp { get; }

    /// <summary>The copy of the MLP down projection's input, GELU of the up projection.</summary>
    public Tensor<float> MlpDown { get; }

    /// <summary>Plans a block's copies under <paramref name="prefix"/> where <paramref name="lengths"/> has them kept.</summary>
    internal static void Plan(ArenaLayout<float> layout, string prefix, Lengths lengths)
    {
        if (!lengths.Kept) return;
        for (int i = 0; i < Names.Length; i++)
            layout.Add(prefix + Names[i], new Shape(checked((int)(i < 3 ? lengths.Hidden : lengths.Mlp))));
    }

    /// <summary>The copies <see cref="Plan"/> planned under <paramref name="prefix"/>, or null where it planned none.</summary>
    internal static BlockInputCopies? In(Arena<float> arena, string prefix, Lengths lengths) =>
        lengths.Kept ? new BlockInputCopies(arena, prefix) : null;

    /// <summary>Floats of a copy of N rows of D and of N rows of the MLP's width; none where either is 0.</summary>
    internal readonly record struct Lengths(long Hidden, long Mlp)
    {
        /// <summary>Whether the device keeps the copies.</summary>
        public bool Kept => Hidden > 0 && Mlp > 0;

        /// <summary>What <paramref name="device"/> keeps of <paramref name="rows"/> rows.</summary>
        public static Lengths Of(Device device, long rows, int hidden, int mlpHidden) =>
            new(device.Kernels.InputCopyLength(checked((int)rows), hidden), device.Kernels.InputCopyLength(checked((int)rows), mlpHidden));
    }
}
