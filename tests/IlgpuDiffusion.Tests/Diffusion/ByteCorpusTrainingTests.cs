using IlgpuDiffusion.Autoregressive;
using IlgpuDiffusion.Data;
using IlgpuDiffusion.Diffusion;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Sampling;
using IlgpuDiffusion.Tests.Conformance;
using IlgpuDiffusion.Tests.Data;
using IlgpuDiffusion.Tests.Training;
using Xunit;

namespace IlgpuDiffusion.Tests.Diffusion;

/// <summary>
/// Training on shards of the byte tokenizer: a tiny MDLM over its 258 ids learns, its checkpoint says "bytes" and its samples
/// decode; a model configured for another tokenizer, or with too few ids for the data, is refused before any step.
/// </summary>
[Collection(ConformanceCollection.Name)]
public sealed class ByteCorpusTrainingTests : IDisposable
{
    private const int Length = 16;

    private readonly TempDirectory _temp = new();
    private readonly PreparedCorpus _corpus;

    public ByteCorpusTrainingTests()
    {
        for (int i = 0; i < 6; i++) _temp.Write($"corpus/{i}.txt", string.Concat(Enumerable.Repeat($"the union is strong {i}. ", 6)));
        _corpus = CorpusPreparer.Prepare([_temp.File("corpus")], _temp.File("shards"),
            new CorpusPreparationOptions { SequenceLength = Length, ValidationFraction = 0, Tokenizer = ByteTokenizer.Shared });
    }

    private static DitConfig ByteModel => TinyModels.LearningDit(vocab: 258, Length, dropout: 0f) with { Tokenizer = "bytes" };

    [Fact]
    public void A_tiny_mdlm_learns_bytes_and_its_checkpoint_and_samples_are_bytes()
    {
        using TokenShardSet train = _corpus.OpenTrain();
        using var model = new Dit(ByteModel, TinyModels.Cpu);
        model.Initialize(seed: 3);
        using var trainer = new MdlmTrainer(model, train, TinyTraining.Config);
        double[] losses = Enumerable.Range(0, 12).Select(_ => trainer.TrainStep().Loss).ToArray();
        // Fresh logits ≡ 0 cost ln(257) nats per masked byte; a handful of steps learn the few bytes this text uses.
        Assert.InRange(losses[0], 0.5 * Math.Log(257), 1.5 * Math.Log(257));
        Assert.True(losses.TakeLast(3).Average() < 0.8 * losses.Take(3).Average(), string.Join(", ", losses));

        string checkpoint = _temp.File("bytes.safetensors");
        trainer.SaveCheckpoint(checkpoint);
        DitConfig saved = MdlmCheckpoint.ReadHeader(checkpoint).Model;
        Assert.Equal(("bytes", 258), (saved.Tokenizer, saved.Vocab));
        using Dit loaded = MdlmCheckpoint.LoadModel(checkpoint, TinyModels.Cpu);
        Assert.Equal(ByteModel, loaded.Config);
        using var sampler = new DiffusionSampler(loaded, new SamplerOptions { Steps = 4, BatchSize = 2, Seed = 1 });
        SamplingResult result = sampler.Sample();
        Assert.All(result.Sequence(0).ToArray().Concat(result.Sequence(1).ToArray()), id => Assert.InRange(id, 0, 256));
        Tokenizer.FromName(loaded.Config.Tokenizer).Decode(result.Sequence(0));
    }

    [Fact]
    public void A_model_configured_for_gpt2_is_refused_byte_shards_and_says_how_to_build_one_for_them()
    {
        using TokenShardSet train = _corpus.OpenTrain();
        using var model = new Dit(TinyModels.LearningDit(vocab: Gpt2Tokenizer.ModelVocabularySize, Length, 0f), TinyModels.Cpu);
        var error = Assert.Throws<ArgumentException>(() => new MdlmTrainer(model, train, TinyTraining.Config));
        Assert.Contains("The data was prepared with the bytes tokenizer, but the model's config names gpt2. " +
            "Build the model for bytes (Tokenizer \"bytes\", Vocab 258), or prepare the data with gpt2.", error.Message);
        Assert.Throws<ArgumentException>(() => new ValidationPerplexity(model.Config, model.Device, train, batchSize: 2, seed: 1));
    }

    [Fact]
    public void A_model_with_fewer_ids_than_its_tokenizers_data_is_refused_naming_the_vocabulary_it_needs()
    {
        using TokenShardSet train = _corpus.OpenTrain();
        using var model = new Dit(ByteModel with { Vocab = 100 }, TinyModels.Cpu);
        var error = Assert.Throws<ArgumentException>(() => new MdlmTrainer(model, train, TinyTraining.Config));
        Assert.Contains("The data's ids reach 256 (vocabulary 257 (bytes)), but the model's Vocab 100 holds ids 0..98 and MASK 99. " +
            "Build the model with Vocab 258", error.Message);
    }

    [Fact]
    public void The_autoregressive_trainer_takes_byte_shards_for_a_byte_gpt_only()
    {
        using TokenShardSet train = _corpus.OpenTrain();
        using var bytes = new Gpt(TinyModels.LearningGpt(vocab: 257, Length) with { Tokenizer = "bytes" }, TinyModels.Cpu);
        bytes.Initialize(seed: 2);
        using (var trainer = new ArTrainer(bytes, train, TinyTraining.Config)) Assert.True(double.IsFinite(trainer.TrainStep().Loss));
        using var gpt2 = new Gpt(TinyModels.LearningGpt(vocab: 257, Length), TinyModels.Cpu);
        Assert.Contains("the model's config names gpt2",
            Assert.Throws<ArgumentException>(() => new ArTrainer(gpt2, train, TinyTraining.Config)).Message);
        using var small = new Gpt(TinyModels.LearningGpt(vocab: 200, Length) with { Tokenizer = "bytes" }, TinyModels.Cpu);
        Assert.Contains("the model's Vocab 200 holds ids 0..199. Build the model with Vocab 257",
            Assert.Throws<ArgumentException>(() => new ArTrainer(small, train, TinyTraining.Config)).Message);
    }

    public void Dispose() => _temp.Dispose();
}
