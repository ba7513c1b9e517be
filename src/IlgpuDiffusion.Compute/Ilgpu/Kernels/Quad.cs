namespace IlgpuDiffusion.Ilgpu.Kernels;

/// <summary>
/// Four floats held in registers: one row of a GEMM thread's 4×4 register tile. A plain
/// struct of scalars (ILGPU lowers it to four registers); System.Numerics.Vector4 does not
/// compile for every ILGPU backend, and an array indexed in a loop would spill to local memory.
/// </summary>
internal readonly struct Quad(float x, float y, float z, float w)
{
    public readonly float X = x, Y = y, Z = z, W = w;

    /// <summary>this + s·q, elementwise (plain multiply-add: MathF.FusedMultiplyAdd is avoided in kernels).</summary>
    public Quad MulAdd(float s, Quad q) => new(X + s * q.X, Y + s * q.Y, Z + s * q.Z, W + s * q.W);
}
