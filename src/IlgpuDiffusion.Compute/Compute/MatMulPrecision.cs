namespace IlgpuDiffusion.Compute;

/// <summary>
/// How a device multiplies matrices (GEMM, Linear, and the products inside attention). Storage, accumulation and every
/// other op stay fp32 whatever the setting; only products change. Under TF32 and BF16, attention runs on tensor cores
/// too, in the same precision: flash kernels for heads of up to 64 columns in multiples of 8, a flash forward (and
/// KV-cache decode step) for heads of 72 to 128 in multiples of 8, whose backward runs on flash kernels too where the GPU
/// grants them their shared memory (71 KB under TF32, 54 KB under BF16; over materialized scores on the tensor-core GEMMs
/// where it refuses), and other heads over materialized scores both ways (their decode step keeps fp32 products). The CPU
/// backend computes in fp32.
/// </summary>
public enum MatMulPrecision
{
    /// <summary>fp32 products on ordinary cores: the reference, on every device.</summary>
    Fp32,

    /// <summary>
    /// TF32 tensor-core products (inputs rounded to 10 mantissa bits, round to nearest with ties away from zero), fp32
    /// accumulation: CUDA GPUs of compute capability 8.0 and newer; the default there.
    /// </summary>
    Tf32,

    /// <summary>
    /// BF16 tensor-core products (inputs rounded to 7 mantissa bits, round to nearest even), fp32 accumulation: CUDA GPUs
    /// of compute capability 8.0 and newer.
    /// </summary>
    Bf16,
}

/// <summary>Parses and names GEMM precisions as the command line spells them.</summary>
public static class MatMulPrecisions
{
    /// <summary>The accepted spellings, for help texts and error messages.</summary>
    public const string Accepted = "auto, fp32, tf32, bf16";

    /// <summary>Parses a precision name; <c>null</c> (or "auto") means the device's best (TF32 on tensor cores, else fp32).</summary>
    /// <exception cref="ArgumentException">The name is none of <see cref="Accepted"/>.</exception>
    public static MatMulPrecision? Parse(string? name) => name?.Trim().ToLowerInvariant() switch
    {
        null or "" or "auto" => null,
        "fp32" => MatMulPrecision.Fp32,
        "tf32" => MatMulPrecision.Tf32,
        "bf16" => MatMulPrecision.Bf16,
        _ => throw new ArgumentException($"Unknown GEMM precision '{name}'. Use one of: {Accepted}."),
    };

    /// <summary>The command-line spelling of a precision.</summary>
    public static string Name(this MatMulPrecision precision) => precision switch
    {
        MatMulPrecision.Fp32 => "fp32",
        MatMulPrecision.Tf32 => "tf32",
        MatMulPrecision.Bf16 => "bf16",
        _ => throw new ArgumentOutOfRangeException(nameof(precision)),
    };
}
