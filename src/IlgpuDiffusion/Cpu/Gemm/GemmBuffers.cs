namespace IlgpuDiffusion.Cpu.Gemm;

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
