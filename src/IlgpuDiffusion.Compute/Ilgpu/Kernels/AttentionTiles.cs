using ILGPU;

namespace IlgpuDiffusion.Ilgpu.Kernels;

/// <summary>The three tiled attention kernels, which differ in what they keep in shared memory.</summary>
internal enum AttentionPass
{
    /// <summary>Forward: Q, O [TileQ, d+1]; K, V [TileK, d+1]; S [TileQ, TileK]; max, sum, correction [TileQ].</summary>
    Forward,

    /// <summary>
    /// Backward dK, dV per key tile: K, V, dK, dV [TileK, d+1]; Q, dO [TileQ, d+1]; P, dS [TileQ, TileK]; lse, D [TileQ].
    /// </summary>
    KeyValue,

    /// <summary>Backward dQ per query tile: Q, dO, dQ [TileQ, d+1]; K, V [TileK, d+1]; dS [TileQ, TileK]; lse, D [TileQ].</summary>
    Query,
}

/// <summary>
/// Tile sizes of one attention launch: TileQ query rows and TileK key rows staged in dynamic shared memory
/// (rows padded to d+1 floats so that threads walking rows hit distinct banks), the largest powers of two up
/// to the plan's maximum whose layout fits the shared-memory cap (see <see cref="Fit"/>).
/// </summary>
internal readonly record struct AttentionTiles(int TileQ, int TileK, int SharedFloats)
{
    /// <summary>Floats of shared memory <paramref name="pass"/> needs with these tiles and head size.</summary>
    public static int Floats(AttentionPass pass, int tileQ, int tileK, int headDim)
    {
        int q = tileQ * (headDim + 1), k = tileK * (headDim + 1), s = tileQ * tileK;
        return pass switch
        {
            AttentionPass.Forward => 2 * q + 2 * k + s + 3 * tileQ,
            AttentionPass.KeyValue => 2 * q + 4 * k + 2 * s + 2 * tileQ,
            _ => 3 * q + 2 * k + s + 2 * tileQ,
        };
    }

    /// <summary>
    /// Of the power-of-two tiles up to (<paramref name="maxTileQ"/>, <paramref name="maxTileK"/>) that fit
    /// <paramref name="capFloats"/>, those of the largest area (work per staged element), then with the larger
    /// owned tile (the one holding accumulators).
    /// </summary>
    public static AttentionTiles Fit(AttentionPass pass, int headDim, int maxTileQ, int maxTileK, int capFloats)
    {
        AttentionTiles best = default;
        for (int tileQ = maxTileQ; tileQ >= 1; tileQ /= 2)
            for (int tileK = maxTileK; tileK >= 1; tileK /= 2)
            {
                int floats = Floats(pass, tileQ, tileK, headDim);
                if (floats > capFloats) continue;
                int owned = pass == AttentionPass.KeyValue ? tileK : tileQ;
                int bestOwned = pass == AttentionPass.KeyValue ? best.TileK : best.TileQ;
                long area = (long)tileQ * tileK, bestArea = (long)best.TileQ * best.TileK;
                if (area > bestArea || (area == bestArea && owned > bestOwned)) best = new AttentionTiles(tileQ, tileK, floats);
            }
        return best.SharedFloats > 0 ? best
            : throw new ArgumentOutOfRangeException(nameof(headDim),
                $"Attention with head size {headDim} does not fit the accelerator's shared memory.");
    }

    /// <summary>The launch: one group of <paramref name="group"/> threads per (tile, batch·head).</summary>
    public KernelConfig Config(int tiles, int batchHeads, int group) =>
        new(new Index2D(tiles, LaunchPlan.GridYZ(batchHeads, "batch·heads")), new Index2D(group, 1),
            SharedMemoryConfig.RequestDynamic<float>(SharedFloats));
}
