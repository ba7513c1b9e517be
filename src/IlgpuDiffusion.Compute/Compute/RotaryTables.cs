namespace IlgpuDiffusion.Compute;

/// <summary>
/// The fp32 cos/sin tables of the rotary embedding, computed exactly as the reference (PyTorch) does,
/// every step in fp32: inv_freq_j = 1 / 10000^((2j)/d), θ(p, j) = float(p)·inv_freq_j, then cos θ and sin θ.
/// (A lower-precision inv_freq drifts by ~0.45 rad at position 1023; keep these in fp32.)
/// </summary>
public static class RotaryTables
{
    /// <summary>Tables for positions [0, <paramref name="positions"/>) and an even head size.</summary>
    /// <returns>Cos and Sin, each [positions, headDim/2] row-major, the layout RotaryForward reads.</returns>
    public static (float[] Cos, float[] Sin) Create(int positions, int headDim)
    {
        if (positions < 0)
            throw new ArgumentOutOfRangeException(nameof(positions), $"Positions must be non-negative; got {positions}.");
        if (headDim <= 0 || headDim % 2 != 0)
            throw new ArgumentOutOfRangeException(nameof(headDim),
                $"Rotary embedding needs a positive even head dimension; got {headDim}.");
        int half = headDim / 2;
        var inverseFrequency = new float[half];
        for (int j = 0; j < half; j++)
            inverseFrequency[j] = 1f / MathF.Pow(10000f, (2 * j) / (float)headDim);
        var cos = new float[(long)positions * half];
        var sin = new float[(long)positions * half];
        for (int p = 0; p < positions; p++)
            for (int j = 0; j < half; j++)
            {
                float angle = p * inverseFrequency[j];
                cos[p * half + j] = MathF.Cos(angle);
                sin[p * half + j] = MathF.Sin(angle);
            }
        return (cos, sin);
    }
}
