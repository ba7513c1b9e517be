using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Models.Safetensors;
using IlgpuDiffusion.Tests.Data;
using Xunit;

namespace IlgpuDiffusion.Tests.Models;

/// <summary>The safetensors reader and writer: round trips, half-precision loads, and each broken-file error.</summary>
public sealed class SafetensorsTests
{
    [Fact]
    public void Writer_round_trips_host_and_device_tensors_with_metadata()
    {
        using var folder = new TempDirectory();
        using var device = Device.Create("cpu");
        float[] a = [1f, -2.5f, 3.25f, 0f, 1e-7f, -1e30f];
        var b = device.Upload<float>([7f, 8f, 9f], new Shape(3));
        var writer = new SafetensorsWriter();
        writer.Metadata["config"] = "{\"hidden\": 4}";
        writer.Metadata["step"] = "12";
        writer.Add("a.weight", a, 2, 3);
        writer.Add("b", b, 3);
        writer.Add("scalar", new float[] { 42f });
        string path = folder.File("x.safetensors");
        writer.Write(path);

        Assert.Equal(["x.safetensors"], folder.AllFiles());
        using var reader = SafetensorsReader.Open(path);
        Assert.Equal(["a.weight", "b", "scalar"], reader.Tensors.Select(t => t.Name));
        Assert.Equal([2L, 3L], reader.GetInfo("a.weight").Shape);
        Assert.Equal(SafetensorsDtype.F32, reader.GetInfo("b").Dtype);
        Assert.Empty(reader.GetInfo("scalar").Shape);
        Assert.Equal(a, reader.ReadFloats("a.weight"));
        Assert.Equal([7f, 8f, 9f], reader.ReadFloats("b"));
        Assert.Equal([42f], reader.ReadFloats("scalar"));
        Assert.Equal("{\"hidden\": 4}", reader.Metadata["config"]);
        Assert.Equal("12", reader.Metadata["step"]);
        Assert.Equal(0UL, System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(File.ReadAllBytes(path).AsSpan(0, 8)) % 8);
    }

    [Fact]
    public void Writer_replaces_an_existing_file_and_leaves_no_temporary()
    {
        using var folder = new TempDirectory();
        string path = folder.Write("w.safetensors", "old contents");
        var writer = new SafetensorsWriter();
        writer.Add("t", new float[] { 1f, 2f }, 2);
        writer.Write(path);
        Assert.Equal(["w.safetensors"], folder.AllFiles());
        using var reader = SafetensorsReader.Open(path);
        Assert.Equal([1f, 2f], reader.ReadFloats("t"));
    }

    [Fact]
    public void Writer_rejects_duplicate_names_and_wrong_element_counts()
    {
        var writer = new SafetensorsWriter();
        writer.Add("t", new float[6], 2, 3);
        Assert.Contains("'t'", Assert.Throws<ArgumentException>(() => writer.Add("t", new float[6], 6)).Message);
        Assert.Contains("'u'", Assert.Throws<ArgumentException>(() => writer.Add("u", new float[5], 2, 3)).Message);
    }

    [Theory]
    [InlineData("F32")]
    [InlineData("F16")]
    [InlineData("BF16")]
    public void Reader_converts_half_precision_to_float(string dtypeName)
    {
        var dtype = Enum.Parse<SafetensorsDtype>(dtypeName);
        using var folder = new TempDirectory();
        float[] values = [0f, 1f, -1.5f, 0.1f, 3.14159f, -65504f, 1e-3f, 1234.5f];
        string path = folder.Write("h.safetensors", new RawSafetensors().Add("w", dtype, values, 2, 4).ToBytes());
        using var reader = SafetensorsReader.Open(path);
        Assert.Equal(RawSafetensors.RoundTrip(dtype, values), reader.ReadFloats("w"));
        using var device = Device.Create("cpu");
        var tensor = device.AllocateTensor<float>(new Shape(8));
        reader.ReadFloats("w", tensor);
        Assert.Equal(RawSafetensors.RoundTrip(dtype, values), tensor.ToArray());
    }

    [Fact]
    public void Reader_streams_tensors_larger_than_one_chunk()
    {
        using var folder = new TempDirectory();
        var values = Enumerable.Range(0, 300_000).Select(i => (float)Math.Sin(i)).ToArray();
        string path = folder.Write("big.safetensors", new RawSafetensors().Add("w", SafetensorsDtype.BF16, values, 300_000).ToBytes());
        using var reader = SafetensorsReader.Open(path);
        Assert.Equal(RawSafetensors.RoundTrip(SafetensorsDtype.BF16, values), reader.ReadFloats("w"));
    }

    [Fact]
    public void Truncated_data_names_the_tensor()
    {
        using var folder = new TempDirectory();
        byte[] bytes = new RawSafetensors()
            .Add("first", SafetensorsDtype.F32, new float[4], 4)
            .Add("second.weight", SafetensorsDtype.F32, new float[4], 4)
            .ToBytes();
        string path = folder.Write("t.safetensors", bytes[..^3]);
        var error = Assert.Throws<InvalidDataException>(() => SafetensorsReader.Open(path));
        Assert.Contains("truncated", error.Message);
        Assert.Contains("'second.weight'", error.Message);
    }

    [Fact]
    public void Truncated_header_and_tiny_files_are_rejected()
    {
        using var folder = new TempDirectory();
        byte[] bytes = new RawSafetensors().Add("w", SafetensorsDtype.F32, new float[4], 4).ToBytes();
        Assert.Contains("truncated",
            Assert.Throws<InvalidDataException>(() => SafetensorsReader.Open(folder.Write("a", bytes[..20]))).Message);
        Assert.Contains("shorter",
            Assert.Throws<InvalidDataException>(() => SafetensorsReader.Open(folder.Write("b", bytes[..5]))).Message);
        byte[] notJson = (byte[])bytes.Clone();
        notJson[8] = (byte)'[';
        Assert.Contains("JSON", Assert.Throws<InvalidDataException>(() => SafetensorsReader.Open(folder.Write("c", notJson))).Message);
    }

    [Fact]
    public void Unknown_dtype_names_the_tensor()
    {
        using var folder = new TempDirectory();
        string path = folder.Write("u.safetensors", new RawSafetensors().AddRaw("odd.weight", "Q4_K", new byte[4], 4).ToBytes());
        var error = Assert.Throws<InvalidDataException>(() => SafetensorsReader.Open(path));
        Assert.Contains("'odd.weight'", error.Message);
        Assert.Contains("Q4_K", error.Message);
    }

    [Fact]
    public void Integer_tensors_are_listed_but_not_read_as_floats()
    {
        using var folder = new TempDirectory();
        string path = folder.Write("i.safetensors", new RawSafetensors().AddRaw("count", "I64", new byte[16], 2).ToBytes());
        using var reader = SafetensorsReader.Open(path);
        Assert.Equal(SafetensorsDtype.I64, reader.GetInfo("count").Dtype);
        var error = Assert.Throws<InvalidDataException>(() => reader.ReadFloats("count"));
        Assert.Contains("'count'", error.Message);
        Assert.Contains("I64", error.Message);
    }

    [Fact]
    public void Offsets_that_disagree_with_the_shape_and_missing_tensors_name_the_tensor()
    {
        using var folder = new TempDirectory();
        string path = folder.Write("o.safetensors", new RawSafetensors().AddRaw("w", "F32", new byte[12], 4).ToBytes());
        Assert.Contains("'w'", Assert.Throws<InvalidDataException>(() => SafetensorsReader.Open(path)).Message);

        string good = folder.Write("g.safetensors", new RawSafetensors().Add("w", SafetensorsDtype.F32, new float[4], 4).ToBytes());
        using var reader = SafetensorsReader.Open(good);
        Assert.Contains("'missing.bias'", Assert.Throws<InvalidDataException>(() => reader.ReadFloats("missing.bias")).Message);
        Assert.Contains("'w'", Assert.Throws<ArgumentException>(() => reader.ReadFloats("w", new float[3])).Message);
    }
}
