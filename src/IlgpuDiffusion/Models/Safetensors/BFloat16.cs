namespace IlgpuDiffusion.Models.Safetensors;

/// <summary>bfloat16 encoding: the upper 16 bits of a binary32, rounded to nearest with ties to even.</summary>
internal static class BFloat16
{
    /// <summary>
    /// The bfloat16 bits nearest <paramref name="value"/> (ties to the even one; values past bfloat16's largest finite one
    /// round to infinity); a NaN stays a (quiet) NaN.
    /// </summary>
    public static ushort FromFloat(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value)) return (ushort)((bits >> 16) | 0x0040);
        uint roundingBias = 0x7FFF + ((bits >> 16) & 1);
        return (ushort)((bits + roundingBias) >> 16);
    }
}
