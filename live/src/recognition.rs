//! One detected face → the descriptor of every model pack its search needs
//! → the search. The domains a search walks (its own, then inherited ones)
//! may hold descriptors of different packs; each is searched with its own.

use std::time::{Duration, Instant};

use facerec_index::{IndexSet, PackQuery, SearchOutcome};
use facerec_storage::DomainCode;
use facerec_vision::{DEFAULT_PACK, Descriptor, Engines, Face, ModelPack, RgbImage};

/// What recognising one face found.
pub struct Recognised {
    /// The face's descriptor of the first pack searched (the client
    /// domain's own, usually the only one): what a tracker compares.
    pub descriptor: Descriptor,
    pub pack: &'static ModelPack,
    pub outcome: SearchOutcome,
    pub search_time: Duration,
}

/// The packs a search for `domain` needs, known to this build, first one
/// first (the default pack when no searched domain holds a descriptor).
pub fn route_packs(
    index: &IndexSet,
    domain: &DomainCode,
) -> anyhow::Result<Vec<&'static ModelPack>> {
    let names = index.route_packs(domain)?;
    if names.is_empty() {
        return Ok(vec![DEFAULT_PACK]);
    }
    names.iter().map(|n| Ok(ModelPack::named(n)?)).collect()
}

/// Embeds `face` once per pack of `domain`'s search and searches.
pub fn recognise(
    engines: &Engines,
    index: &IndexSet,
    domain: &DomainCode,
    image: &RgbImage,
    face: &Face,
) -> anyhow::Result<Recognised> {
    let packs = route_packs(index, domain)?;
    let mut descriptors = Vec::with_capacity(packs.len());
    for &pack in &packs {
        descriptors.push(engines.get(pack)?.embed_face(image, face)?);
    }
    let queries: Vec<PackQuery<'_>> = packs
        .iter()
        .zip(&descriptors)
        .map(|(p, d)| PackQuery {
            pack: p.name,
            vector: d.as_slice(),
            threshold: p.match_distance(),
        })
        .collect();
    let t = Instant::now();
    let outcome = index.search(domain, &queries)?;
    let search_time = t.elapsed();
    Ok(Recognised {
        descriptor: descriptors.swap_remove(0),
        pack: packs[0],
        outcome,
        search_time,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn new_domains_get_the_vision_default_pack() {
        assert_eq!(
            facerec_storage::NEW_DOMAIN_PACK,
            facerec_vision::DEFAULT_PACK.name
        );
    }
}
