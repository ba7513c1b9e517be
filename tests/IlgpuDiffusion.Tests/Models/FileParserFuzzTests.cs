using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using IlgpuDiffusion.Autoregressive;
using IlgpuDiffusion.Diffusion;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Models.Safetensors;
using IlgpuDiffusion.Tests.Data;
using IlgpuDiffusion.Training;
using Xunit;

namespace IlgpuDiffusion.Tests.Models;

/// <summary>
/// Seeded fuzzing of the parsers that read files, over more than 100,000 random and mutated inputs: safetensors headers
/// (in memory), checkpoint metadata and Hugging Face <c>config.json</c> text, then smaller numbers of whole files through
/// <see cref="SafetensorsReader"/> and the config readers. Every input either parses into something consistent or throws
/// the documented <see cref="InvalidDataException"/> naming the file, and no input allocates more than a small multiple of
/// its own size (nothing is sized from a number the input declares).
/// </summary>
public sealed class FileParserFuzzTests : IDisposable
{
    private const long AllocationAllowance = 4L << 20; // a reader's chunk buffers take 1.5 MiB
    private const int AllocationPerInputByte = 64;

    private readonly TempDirectory _folder = new();
    private readonly string _path;
    private readonly byte[] _checkpoint, _mixedDtypes;

    public FileParserFuzzTests()
    {
        _path = _folder.File("fuzzed.safetensors");
        var writer = new SafetensorsWriter();
        var state = new TrainingState(3, 3, 3, default, 7);
        foreach (var (key, value) in new MdlmCheckpointHeader(TinyModels.CliDit, TrainingConfig.Mdlm, state).ToMetadata())
            writer.Metadata[key] = value;
        writer.Add("model.a", new float[] { 1f, -2f, 0.5f, 0f, 3f, 4f }, 2, 3);
        writer.Add("model.b", new float[] { 7f }, 1);
        writer.Write(_path);
        _checkpoint = File.ReadAllBytes(_path);
        _mixedDtypes = new RawSafetensors()
            .Add("f16", SafetensorsDtype.F16, [1f, 2f, 3f, 4f], 2, 2)
            .Add("bf16.weight", SafetensorsDtype.BF16, [0.5f], 1)
            .AddRaw("ids", "I64", new byte[16], 2)
            .Add("empty", SafetensorsDtype.F32, [], 0, 4)
            .ToBytes();
    }

    [Fact]
    public void Safetensors_headers_in_memory()
    {
        var hostile = new HostileBytes(seed: 1);
        var bases = new[] { Split(_checkpoint), Split(_mixedDtypes) };
        for (int i = 0; i < 60_000; i++)
        {
            var (header, dataLength) = (i % 6) switch
            {
                < 3 => (hostile.Mutate(bases[i % 2].Header), bases[i % 2].DataLength),
                < 5 => hostile.Header(),
                _ => (hostile.Noise(512), bases[0].DataLength),
            };
            Expect("header", i, () => Convert.ToBase64String(header), header.Length, IsInvalidData,
                () => AssertConsistent(SafetensorsHeader.Parse(_path, header, dataLength), dataLength));
        }
    }

    [Fact]
    public void Checkpoint_metadata_in_memory()
    {
        var hostile = new HostileBytes(seed: 2);
        var state = new TrainingState(3, 3, 3, default, 7);
        var mdlm = new MdlmCheckpointHeader(TinyModels.CliDit, TrainingConfig.Mdlm, state).ToMetadata();
        var gpt = new GptCheckpointHeader(TinyModels.EvaluationGpt(), TrainingConfig.Mdlm, state).ToMetadata();
        for (int i = 0; i < 20_000; i++)
        {
            var metadata = new Dictionary<string, string>(i % 2 == 0 ? mdlm : gpt);
            string key = metadata.Keys.ElementAt(i / 2 % metadata.Count);
            metadata[key] = hostile.MutateText(metadata[key]);
            long size = metadata.Sum(e => 2L * (e.Key.Length + e.Value.Length));
            Expect("metadata", i, () => JsonSerializer.Serialize(metadata), size, IsInvalidData, () =>
            {
                if (i % 2 == 0) AssertConsistent(MdlmCheckpointHeader.FromMetadata(_path, metadata).Model);
                else AssertConsistent(GptCheckpointHeader.FromMetadata(_path, metadata).Model);
            });
        }
    }

    [Fact]
    public void Hugging_face_configs_in_memory()
    {
        var hostile = new HostileBytes(seed: 3);
        string dit = HuggingFaceConfig.Format(TinyModels.CliDit), gpt = GptHuggingFaceConfig.Format(TinyModels.EvaluationGpt());
        for (int i = 0; i < 20_000; i++)
        {
            string json = hostile.MutateText(i % 2 == 0 ? dit : gpt);
            // Parse has no file to name; ConfigJson.Read adds it to these two types (checked with files below).
            Expect("config", i, () => json, 2L * json.Length, e => e is InvalidDataException or JsonException, () =>
            {
                if (i % 2 == 0) AssertConsistent(HuggingFaceConfig.Parse(json));
                else AssertConsistent(GptHuggingFaceConfig.Parse(json));
            });
        }
    }

    [Fact]
    public void Whole_files_through_the_readers()
    {
        var hostile = new HostileBytes(seed: 4);
        for (int i = 0; i < 2_000; i++)
        {
            byte[] bytes = i % 4 == 3 ? hostile.Noise(64) : hostile.Mutate(i % 2 == 0 ? _checkpoint : _mixedDtypes);
            File.WriteAllBytes(_path, bytes);
            Expect("file", i, () => Convert.ToBase64String(bytes), bytes.Length, IsInvalidData, () =>
            {
                using var reader = SafetensorsReader.Open(_path);
                foreach (var tensor in reader.Tensors.Where(t => t.Dtype.IsReadableAsFloat()))
                    Assert.All(reader.ReadFloats(tensor.Name), value => Assert.True(float.IsFinite(value)));
                if (reader.Metadata.ContainsKey(CheckpointMetadata.FormatKey))
                    AssertConsistent(MdlmCheckpointHeader.FromMetadata(_path, reader.Metadata).Model);
            });
        }
        string configPath = _folder.File("config.json");
        string dit = HuggingFaceConfig.Format(TinyModels.CliDit), gpt = GptHuggingFaceConfig.Format(TinyModels.EvaluationGpt());
        for (int i = 0; i < 1_000; i++)
        {
            byte[] bytes = hostile.Mutate(Encoding.UTF8.GetBytes(i % 2 == 0 ? dit : gpt));
            File.WriteAllBytes(configPath, bytes);
            Expect("config.json", i, () => Convert.ToBase64String(bytes), 2L * bytes.Length,
                e => e is InvalidDataException && e.Message.Contains(configPath, StringComparison.Ordinal), () =>
                {
                    if (i % 2 == 0) AssertConsistent(HuggingFaceConfig.Read(configPath));
                    else AssertConsistent(GptHuggingFaceConfig.Read(configPath));
                });
        }
    }

    /// <summary>The documented error of the safetensors and metadata readers: invalid data, naming the file.</summary>
    private bool IsInvalidData(Exception e) => e is InvalidDataException && e.Message.Contains(_path, StringComparison.Ordinal);

    /// <summary>
    /// Runs <paramref name="parse"/>: it must succeed or throw an exception <paramref name="documented"/> accepts, and
    /// allocate at most <see cref="AllocationAllowance"/> plus <see cref="AllocationPerInputByte"/> per input byte.
    /// </summary>
    private static void Expect(string kind, int index, Func<string> input, long inputBytes, Func<Exception, bool> documented,
        Action parse)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        try
        {
            parse();
        }
        catch (Exception e) when (!documented(e))
        {
            Assert.Fail($"{kind} case {index} threw {e.GetType().Name}: {e.Message}\ninput: {input()}\n{e}");
        }
        catch (Exception)
        {
            // documented: the message names the file and the problem
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated <= AllocationAllowance + AllocationPerInputByte * inputBytes,
            $"{kind} case {index} allocated {allocated} bytes for {inputBytes} bytes of input: {input()}");
    }

    /// <summary>The header bytes and data length of a whole safetensors file.</summary>
    private static (byte[] Header, long DataLength) Split(byte[] file)
    {
        int headerLength = (int)BinaryPrimitives.ReadUInt64LittleEndian(file);
        return (file[8..(8 + headerLength)], file.Length - 8 - headerLength);
    }

    /// <summary>A parsed header lays its tensors back to back over the whole data section, each as long as its shape says.</summary>
    private static void AssertConsistent(SafetensorsHeader header, long dataLength)
    {
        long next = 0;
        foreach (var tensor in header.Tensors.OrderBy(t => t.Begin).ThenBy(t => t.End))
        {
            Assert.Equal(next, tensor.Begin);
            Assert.Equal(tensor.ElementCount * tensor.Dtype.Size(), tensor.End - tensor.Begin);
            next = tensor.End;
        }
        Assert.Equal(dataLength, next);
        Assert.Equal(header.Tensors.Count, header.Tensors.Select(t => t.Name).Distinct().Count());
    }

    /// <summary>A config that was read is one the model accepts, with a parameter count that fits an arena.</summary>
    private static void AssertConsistent(DitConfig config) => Assert.InRange(config.Validate().ParameterCount(), 1, int.MaxValue);

    /// <summary>A config that was read is one the model accepts, with a parameter count that fits an arena.</summary>
    private static void AssertConsistent(GptConfig config) => Assert.InRange(config.Validate().ParameterCount(), 1, int.MaxValue);

    public void Dispose() => _folder.Dispose();
}
