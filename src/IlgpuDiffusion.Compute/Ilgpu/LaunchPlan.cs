using System.Numerics;
using ILGPU;
using ILGPU.Runtime;
using IlgpuDiffusion.Ilgpu.Kernels;

namespace IlgpuDiffusion.Ilgpu;

/// <summary>
/// Group and tile sizes chosen once per accelerator, never hard-coded in kernels.
/// The CPU emulator (warp 4, groups ≤ 16) gets tiny tiles so that tests with small odd
/// shapes cross tile edges and multi-warp groups; GPUs get 64×64 GEMM tiles.
/// All tile extents and tree-reduced group dimensions are powers of two.
/// </summary>
internal sealed class LaunchPlan
{
    /// <summary>Largest grid Y or Z dimension CUDA launches accept (2^16 − 1).</summary>
    private const int MaxGridYZ = 65535;

    /// <summary>Dynamic shared memory one CUDA block may use without opting in (48 KB).</summary>
    public const int MaxSharedBytes = 48 * 1024;

    /// <param name="warpRowSums">Whether normalization rows sum by warp shuffles (null: on CUDA and the CPU emulator).</param>
    public LaunchPlan(Accelerator accelerator, bool? warpRowSums = null)
        : this(accelerator.AcceleratorType, accelerator.WarpSize, accelerator.MaxNumThreadsPerGroup, warpRowSums)
    {
    }

    /// <summary>The plan for an accelerator of this type, warp size and largest group.</summary>
    /// <param name="warpRowSums">Whether normalization rows sum by warp shuffles (null: on CUDA and the CPU emulator).</param>
    public LaunchPlan(AcceleratorType type, int warpSize, int maxGroup, bool? warpRowSums = null)
    {
        int warp = Math.Max(1, warpSize);
        bool cpu = type == AcceleratorType.CPU;

        // GEMM: group (GemmX, GemmY) threads computing a (4·GemmY)×(4·GemmX) tile, k staged GemmTileK at a time.
        (GemmX, GemmY, GemmTileK) = cpu || maxGroup < 64 ? (4, 2, 4) : maxGroup >= 256 ? (16, 16, 16) : (8, 8, 16);

        // Row reductions (LayerNorm, sum of squares): one power-of-two group per row.
        RowGroup = FloorPow2(Math.Min(maxGroup, cpu ? 2 * warp : 8 * warp));

        // Column reductions: one warp of columns × a power of two of token lanes.
        ColumnX = Math.Min(warp, maxGroup);
        ColumnY = FloorPow2(Math.Min(maxGroup / ColumnX, cpu ? 2 : 8));
        // Each lane sums this many tokens per chunk; longer sequences are split into chunks
        // (more groups in flight) and their partials added by a second pass.
        ColumnRowsPerLane = cpu ? 2 : 32;

        // Normalization (LayerNorm, QK-norm): a row of NormLanes lanes per vector, NormVectors vectors per group. The lanes
        // sum by warp shuffles where a row is one warp (OpenCL has shuffles only through vendor extensions), else through
        // shared memory. The LayerNorm backward's lane rows each walk this many rows, summing their weight-gradient terms.
        WarpRowSums = (warpRowSums ?? type is AcceleratorType.Cuda or AcceleratorType.CPU) && RowGroup % warp == 0 &&
            BitOperations.IsPow2(warp) && warp <= 64;
        NormLanes = WarpRowSums ? warp : Math.Min(RowGroup, 32);
        NormVectors = RowGroup / NormLanes;
        LayerNormRowsPerLanes = cpu ? 2 : 4;

        // Sum of squares: at most this many partial sums in the first pass.
        MaxPartials = cpu ? 4 : 1024;

        // Attention: one group per (tile, batch·head); tiles up to AttentionMaxTile rows, shrunk per head size
        // to fit the 48 KB of dynamic shared memory a CUDA block may have (see AttentionTiles).
        AttentionGroup = cpu ? FloorPow2(Math.Min(maxGroup, 4 * warp)) : FloorPow2(Math.Min(maxGroup, 128));
        AttentionMaxTile = cpu ? 4 : 64;
        // Tensor-core attention keeps score matrices (the flash backward's dSᵀ; the scores, probabilities and their
        // gradients of attention over materialized scores) of this many floats of heads at a time (256 MB; one 64-token
        // head on the emulator, so that tests with several heads take several rounds); a head larger than that gets a
        // round alone.
        ScoreScratchFloats = cpu ? 64 * 64 : 1 << 26;

        GemmShared = SharedMemoryConfig.RequestDynamic<float>(MatMulKernels.SharedFloats(GemmX, GemmY, GemmTileK));
        RowShared = SharedMemoryConfig.RequestDynamic<float>(RowGroup);
        SamplingShared = SharedMemoryConfig.RequestDynamic<double>(5 * RowGroup);
        ColumnShared = SharedMemoryConfig.RequestDynamic<float>(ColumnX * ColumnY);
    }

    public int GemmX { get; }
    public int GemmY { get; }
    public int GemmTileK { get; }
    public int GemmTileMShift => BitOperations.Log2((uint)(4 * GemmY));
    public int GemmTileNShift => BitOperations.Log2((uint)(4 * GemmX));
    public int GemmTileKShift => BitOperations.Log2((uint)GemmTileK);
    public int RowGroup { get; }
    public int AttentionGroup { get; }
    public int AttentionMaxTile { get; }
    public long ScoreScratchFloats { get; }
    public int ColumnX { get; }
    public int ColumnY { get; }
    public int ColumnRowsPerLane { get; }
    public bool WarpRowSums { get; }
    public int NormLanes { get; }
    public int NormVectors { get; }
    public int LayerNormRowsPerLanes { get; }
    public int MaxPartials { get; }
    public SharedMemoryConfig GemmShared { get; }
    public SharedMemoryConfig RowShared { get; }
    public SharedMemoryConfig SamplingShared { get; }
    public SharedMemoryConfig ColumnShared { get; }

    /// <summary>Launch shape of a GEMM producing an [m, n] result.</summary>
    public KernelConfig Gemm(int m, int n) => new(
        new Index2D(Ceil(n, 4 * GemmX), GridYZ(Ceil(m, 4 * GemmY), "GEMM row tiles")), new Index2D(GemmX, GemmY), GemmShared);

    /// <summary>One row-reduction group per row.</summary>
    public KernelConfig Rows(int rows) => new(new Index1D(rows), new Index1D(RowGroup), RowShared);

    /// <summary>
    /// Groups of <see cref="NormLanes"/> × <paramref name="vectorsPerGroup"/> threads (<see cref="NormVectors"/> when null)
    /// over <paramref name="vectors"/> normalized vectors, with a float of shared memory per thread and
    /// <paramref name="moreShared"/> more.
    /// </summary>
    public KernelConfig Normalization(int vectors, int? vectorsPerGroup = null, int moreShared = 0)
    {
        int height = vectorsPerGroup ?? NormVectors;
        return new(new Index3D(Ceil(vectors, height), 1, 1), new Index3D(NormLanes, height, 1),
            SharedMemoryConfig.RequestDynamic<float>(NormLanes * height + moreShared));
    }

    /// <summary>
    /// Tiles of an attention pass for this head size; query tiles no taller than the queries need
    /// (a decoding step with one new token gets one-row query tiles and so longer key tiles).
    /// </summary>
    public AttentionTiles Attention(AttentionPass pass, int headDim, int queries) =>
        AttentionTiles.Fit(pass, headDim, Math.Min(AttentionMaxTile, (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(1, queries))),
            AttentionMaxTile, MaxSharedBytes / sizeof(float));

    /// <summary>One row-reduction group per row with 5·RowGroup doubles of shared memory (sampling reductions).</summary>
    public KernelConfig Sampling(int rows) => new(new Index1D(rows), new Index1D(RowGroup), SamplingShared);

    /// <summary>Column reduction over [batch, tokens, channels] in <paramref name="chunks"/> token chunks.</summary>
    public KernelConfig Columns(int batch, int channels, int chunks) => new(
        new Index3D(Ceil(channels, ColumnX), GridYZ(batch, "sequences"), GridYZ(chunks, "token chunks")),
        new Index3D(ColumnX, ColumnY, 1), ColumnShared);

    public static int Ceil(int x, int d) => (x + d - 1) / d;

    public static int GridYZ(int value, string what) => value <= MaxGridYZ ? value
        : throw new ArgumentOutOfRangeException(nameof(value),
            $"{value} {what} exceed the {MaxGridYZ} a launch grid allows in Y and Z; split the call.");

    private static int FloorPow2(int x)
    {
        int p = 1;
        while (p * 2 <= x) p *= 2;
        return p;
    }
}
