using IlgpuDiffusion.Ilgpu.Kernels;
using Xunit;

namespace IlgpuDiffusion.Tests.Ilgpu;

/// <summary>
/// The shared-memory layout the warpgroup GEMMs stage and the descriptors they give <c>wgmma</c> (PTX ISA, "Matrix
/// Descriptor Format"; <see cref="Wgmma"/>): the emulated kernels read the layout through the function the staging writes
/// it with, so only these tests hold it to the instruction's reading, and nothing but a GPU runs the descriptors.
/// </summary>
public sealed class WgmmaLayoutTests
{
    /// <summary>
    /// Start address (bits 0–13), leading byte offset (16–29) and stride byte offset (32–45), each in units of 16 bytes;
    /// base offset and swizzle mode (62–63) zero: no swizzling.
    /// </summary>
    [Theory]
    [InlineData(0u)]
    [InlineData(0x1230u)]
    [InlineData(0x3FFF0u)] // the last 16 bytes of a 256 KB shared window
    public void A_descriptor_holds_the_address_and_the_offsets_in_16_byte_units(uint address)
    {
        ulong descriptor = Wgmma.Descriptor(address);
        Assert.Equal(address >> 4, descriptor & 0x3FFF);
        Assert.Equal((ulong)Wgmma.LeadingBytes >> 4, (descriptor >> 16) & 0x3FFF);
        Assert.Equal((ulong)Wgmma.StrideBytes >> 4, (descriptor >> 32) & 0x3FFF);
        Assert.Equal(0ul, descriptor & ~0x3FFF_3FFF_3FFFul);
    }

    /// <summary>
    /// A descriptor advanced by a number of bytes (the stage of a ring, the second half of a tile's k) is the descriptor of the
    /// address that many bytes on, up to the last 16 bytes of a 256 KB shared window.
    /// </summary>
    [Theory]
    [InlineData(0u, 0u)]
    [InlineData(0x400u, 0x100u)]
    [InlineData(0x1230u, 3 * 16384u)]
    [InlineData(0x20000u, 0x1FFF0u)]
    public void An_advanced_descriptor_is_the_descriptor_of_the_address_that_far_on(uint address, uint bytes) =>
        Assert.Equal(Wgmma.Descriptor(address + bytes), Wgmma.Advanced(Wgmma.Descriptor(address), bytes));

    /// <summary>
    /// A core matrix is 8 rows of 16 bytes, 128 contiguous bytes: K-major, a row is one line's 16 bytes of k (8 BF16 or 4
    /// TF32); MN-major (BF16), 8 lines at one k. Core matrices lie <see cref="Wgmma.LeadingBytes"/> apart along k and
    /// <see cref="Wgmma.StrideBytes"/> apart along the lines, and a tile's 128 lines × 128 bytes of k fill 16 KB exactly once.
    /// </summary>
    [Theory]
    [InlineData(true, true)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    public void A_tile_is_core_matrices_of_eight_16_byte_rows(bool kMajor, bool bf16)
    {
        int bytes = bf16 ? 2 : 4, perRow = 16 / bytes, depth = Wgmma.TileKBytes / bytes;
        var seen = new HashSet<int>();
        for (int line = 0; line < 128; line++)
            for (int k = 0; k < depth; k++)
            {
                int at = Wgmma.ElementByte(line, k, kMajor, bf16);
                Assert.True(seen.Add(at), $"({line}, {k}) shares byte {at}");
                Assert.Equal(0, at % bytes);
                int core = (line / 8) * Wgmma.StrideBytes + k / perRow * Wgmma.LeadingBytes;
                int row = kMajor ? line % 8 : k % 8, column = kMajor ? k % perRow : line % 8;
                Assert.Equal(core + 16 * row + bytes * column, at);
            }
        Assert.Equal(128 * 128 / bytes, seen.Count);
        Assert.Equal(128 * 128 - bytes, seen.Max());
    }
}
