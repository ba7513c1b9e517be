namespace IlgpuDiffusion.Models;

/// <summary>The element type exported weights are stored in.</summary>
public enum WeightsDtype
{
    /// <summary>IEEE binary32: the weights exactly as trained.</summary>
    F32,

    /// <summary>bfloat16 (rounded to nearest even): half the size, 8 significant bits (a relative error of at most 2⁻⁸).</summary>
    BF16,
}
