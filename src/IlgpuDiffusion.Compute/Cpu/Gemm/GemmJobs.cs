using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Cpu.Gemm;

/// <summary>
/// Packs the B panel of one column block: op(b)[0..k, jc..jc+nc) into
/// [k/Kc blocks][Nc/Nr micro-panels][kc, Nr], so that k block pc starts at pc·ncPadded and
/// micro-panel jp of that block at pc·ncPadded + jp·kc·Nr. A chunk packs a range of
/// micro-panels over the whole depth. One cached instance per driving thread.
/// </summary>
internal sealed unsafe class PackBJob<TKernel> : IParallelJob where TKernel : IMicroKernel
{
    [ThreadStatic] private static PackBJob<TKernel>? t_instance;

    /// <summary>The calling thread's instance.</summary>
    public static PackBJob<TKernel> ForCurrentThread => t_instance ??= new();

    public MatMulLayout Layout;
    public float* B;        // ABt: [n, k]; AB, AtB: [k, n]
    public float* Panel;    // [k, ncPadded] in the blocked format above
    public int N, K, Jc, Nc, NcPadded;
    public int Panels, Chunks;

    public void Execute(int chunk)
    {
        int nr = TKernel.Nr, kcMax = TKernel.Kc;
        int first = (int)((long)chunk * Panels / Chunks), last = (int)((long)(chunk + 1) * Panels / Chunks);
        int col0 = Jc + first * nr, cols = Math.Min(last * nr, Nc) - first * nr;
        for (int pc = 0; pc < K; pc += kcMax)
        {
            int kc = Math.Min(kcMax, K - pc);
            float* dst = Panel + (long)pc * NcPadded + (long)first * kc * nr;
            GemmPacking.PackB<TKernel>(Layout, B, N, K, col0, cols, pc, kc, dst);
        }
    }
}

/// <summary>
/// Multiplies against a packed B panel: chunk (mBlock, nGroup) computes
/// c[rows of m block mBlock, columns of micro-panel group nGroup] over the whole depth,
/// packing its own A blocks. M blocks are contiguous ranges of Mr-row panels, split evenly.
/// One cached instance per driving thread.
/// </summary>
internal sealed unsafe class ComputeJob<TKernel> : IParallelJob where TKernel : IMicroKernel
{
    [ThreadStatic] private static ComputeJob<TKernel>? t_instance;

    /// <summary>The calling thread's instance.</summary>
    public static ComputeJob<TKernel> ForCurrentThread => t_instance ??= new();

    public MatMulLayout Layout;
    public float* A;        // ABt, AB: [m, k]; AtB: [k, m]
    public float* Panel;    // packed B panel of columns [Jc, Jc + Nc)
    public float* C;        // [m, n]
    public int M, N, K, Jc, Nc, NcPadded;
    public bool Accumulate;
    public int RowPanels, MBlocks, ColPanels, NGroups;

    public void Execute(int chunk)
    {
        int mBlock = chunk / NGroups, nGroup = chunk % NGroups;
        int mr = TKernel.Mr;
        int rowPanel0 = (int)((long)mBlock * RowPanels / MBlocks), rowPanel1 = (int)((long)(mBlock + 1) * RowPanels / MBlocks);
        int row0 = rowPanel0 * mr, rows = Math.Min(M, rowPanel1 * mr) - row0;
        int colPanel0 = (int)((long)nGroup * ColPanels / NGroups), colPanel1 = (int)((long)(nGroup + 1) * ColPanels / NGroups);
        if (rows <= 0 || colPanel1 <= colPanel0) return;
        GemmDriver<TKernel>.MultiplyBlock(Layout, A, M, K, Panel, NcPadded, C, N, Jc, Nc,
            row0, rows, colPanel0, colPanel1, Accumulate);
    }
}

/// <summary>
/// Per-thread packing buffers. Each thread that runs GEMM work (callers and pool workers)
/// keeps its own, grown on demand and reused, so calls allocate nothing after warm-up.
/// The arrays are pinned and managed: a thread's buffers die with the thread.
/// </summary>
internal static unsafe class GemmBuffers
{
    /// <summary>Packed A block [Mc/Mr, Kc, Mr] of the compute chunk this thread runs.</summary>
    [ThreadStatic] private static AlignedFloats? t_aBlock;

    /// <summary>Packed B panel [k, Nc] that a driving thread shares with the pool while it runs.</summary>
    [ThreadStatic] private static AlignedFloats? t_bPanel;

    /// <summary>This thread's A block buffer with room for <paramref name="floats"/> floats.</summary>
    public static float* ABlock(long floats) => (t_aBlock ??= new()).Ensure(floats);

    /// <summary>This thread's B panel buffer with room for <paramref name="floats"/> floats.</summary>
    public static float* BPanel(long floats) => (t_bPanel ??= new()).Ensure(floats);

    /// <summary>A growable pinned float array whose usable start is 64-byte aligned.</summary>
    private sealed class AlignedFloats
    {
        private const int AlignFloats = 16; // 64 bytes
        private float[]? _array;
        private float* _aligned;

        public float* Ensure(long floats)
        {
            if (_array is null || _array.Length - AlignFloats < floats)
            {
                long length = floats + AlignFloats;
                if (length > Array.MaxLength)
                    throw new OutOfMemoryException($"A GEMM packing buffer of {floats} floats exceeds the largest array.");
                _array = GC.AllocateUninitializedArray<float>((int)length, pinned: true);
                fixed (float* start = _array) // pinned: the address stays valid after the block
                    _aligned = (float*)(((nint)start + 63) & ~(nint)63);
            }
            return _aligned;
        }
    }
}
