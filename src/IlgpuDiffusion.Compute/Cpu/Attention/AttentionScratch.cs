using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace IlgpuDiffusion.Cpu.Attention;

/// <summary>
/// Per-thread working memory of the attention kernels: one pinned array per thread, grown only when a
/// larger shape first appears (warm-up), carved into 64-byte aligned pieces for each work item.
/// Its size is bounded by the tiles (forward) or O(tokens·headDim) (backward), never tokens².
/// </summary>
internal sealed unsafe class AttentionScratch
{
    private const int Align = 16; // floats: 64 bytes, one cache line and one Vector512

    [ThreadStatic] private static AttentionScratch? t_instance;

    private float[]? _array;
    private float* _base;
    private long _capacity;
    private long _used;

    /// <summary>The calling thread's scratch.</summary>
    public static AttentionScratch ForThisThread => t_instance ??= new AttentionScratch();

    /// <summary>Floats <see cref="Take"/> consumes for a piece of <paramref name="floats"/> floats.</summary>
    public static long Footprint(long floats) => (floats + Align - 1) / Align * Align;

    /// <summary>Starts carving a region of <paramref name="floats"/> floats (the sum of <see cref="Footprint"/>s of the pieces).</summary>
    public void Begin(long floats)
    {
        if (_capacity < floats)
        {
            _array = GC.AllocateArray<float>(checked((int)(floats + Align)), pinned: true);
            var start = (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_array));
            _base = (float*)(((nint)start + (Align * sizeof(float) - 1)) & ~(nint)(Align * sizeof(float) - 1));
            _capacity = floats;
        }
        _used = 0;
    }

    /// <summary>The next aligned piece of <paramref name="floats"/> floats of the region started by <see cref="Begin"/>.</summary>
    public float* Take(long floats)
    {
        long size = Footprint(floats);
        if (_used + size > _capacity)
            throw new InvalidOperationException($"Attention scratch overrun: {_used + size} floats needed, {_capacity} reserved.");
        float* piece = _base + _used;
        _used += size;
        return piece;
    }
}
