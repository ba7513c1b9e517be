using ILGPU;

namespace IlgpuDiffusion.Ilgpu;

/// <summary>Where a view starts within its buffer, for kernels that load 16 bytes at a time where they may.</summary>
internal static class ViewAlignment
{
    /// <summary>
    /// Whether <paramref name="view"/> starts on 16 bytes of its buffer (whose own start is aligned far more), read through
    /// the interface without boxing the view.
    /// </summary>
    public static bool On16Bytes<TView>(TView view) where TView : IContiguousArrayView => view.IndexInBytes % 16 == 0;
}
