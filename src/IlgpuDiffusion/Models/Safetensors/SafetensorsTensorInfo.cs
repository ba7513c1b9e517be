namespace IlgpuDiffusion.Models.Safetensors;

/// <summary>One tensor listed in a safetensors header.</summary>
/// <param name="Name">The tensor's key.</param>
/// <param name="Dtype">Element type as stored.</param>
/// <param name="Shape">Dimensions, outermost first (empty for a scalar).</param>
/// <param name="Begin">First byte inside the data section (after the header).</param>
/// <param name="End">One past the last byte inside the data section.</param>
internal sealed record SafetensorsTensorInfo(string Name, SafetensorsDtype Dtype, long[] Shape, long Begin, long End)
{
    /// <summary>Number of elements (product of the shape; 1 for a scalar).</summary>
    public long ElementCount => Shape.Aggregate(1L, (product, d) => checked(product * d));

    /// <summary>The shape as PyTorch prints it, e.g. [768, 128].</summary>
    public string ShapeText => FormatShape(Shape);

    /// <summary>Formats a shape as [d0, d1, ...].</summary>
    public static string FormatShape(IEnumerable<long> shape) => $"[{string.Join(", ", shape)}]";
}
