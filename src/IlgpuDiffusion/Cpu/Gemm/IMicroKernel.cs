namespace IlgpuDiffusion.Cpu.Gemm;

/// <summary>
/// A register-blocked GEMM micro-kernel and the cache blocking that feeds it. The driver
/// (<see cref="GemmDriver{TKernel}"/>) is generic over this contract, so each SIMD width
/// gets its own fully specialized and inlined copy of the blocking loops.
/// </summary>
/// <remarks>
/// Operand formats (see <see cref="GemmPacking"/>):
/// a packed A micro-panel is [kc, Mr] (for each p, Mr consecutive rows of op(a));
/// a packed B micro-panel is [kc, Nr] (for each p, Nr consecutive columns of op(b)).
/// Both are 64-byte aligned and zero-padded to full Mr/Nr.
/// </remarks>
internal unsafe interface IMicroKernel
{
    /// <summary>Rows of the register tile (broadcast dimension).</summary>
    static abstract int Mr { get; }

    /// <summary>Columns of the register tile (vector dimension).</summary>
    static abstract int Nr { get; }

    /// <summary>Depth of a k block: a packed B micro-panel (Kc·Nr floats) should stay in L1.</summary>
    static abstract int Kc { get; }

    /// <summary>Rows of an m block: a packed A block (Mc·Kc floats) should stay in L2. A multiple of Mr.</summary>
    static abstract int Mc { get; }

    /// <summary>
    /// c[Mr, Nr] (row stride <paramref name="ldc"/>) = (accumulate ? c : 0) + Σ_p a[p, 0..Mr)ᵀ · b[p, 0..Nr).
    /// </summary>
    /// <param name="kc">depth, ≥ 1</param>
    /// <param name="a">packed A micro-panel [kc, Mr]</param>
    /// <param name="b">packed B micro-panel [kc, Nr]</param>
    /// <param name="c">top-left element of the C tile</param>
    static abstract void Run(int kc, float* a, float* b, float* c, int ldc, bool accumulate);
}
