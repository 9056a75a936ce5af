//! The filter language.
//!
//! ```text
//! expr  := and ("or" and)*
//! and   := unary ("and" unary)*
//! unary := "not" unary | "(" expr ")" | field op value | field "in" "[" value ("," value)* "]"
//! op    := >= | <= | > | < | == | !=
//! ```
//! Fields: `sitelinks` and `images` (numbers: Wikipedia editions, photo
//! URLs), `name`, `country`, `wikidata_id` (text), `occupation` (true when any
//! of the candidate's occupations matches). Text compares case-insensitively;
//! values are bare words, numbers or quoted strings. `&&`, `||`, `!` work too.
//! A comparison with an unknown value (no sitelinks, no country) is false,
//! so `not` of it is true.

use facerec_plugin_sdk::Candidate;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Field {
    Sitelinks,
    Images,
    Name,
    Country,
    WikidataId,
    Occupation,
}

impl Field {
    fn parse(word: &str) -> Result<Self, String> {
        Ok(match word.to_ascii_lowercase().as_str() {
            "sitelinks" => Self::Sitelinks,
            "images" => Self::Images,
            "name" => Self::Name,
            "country" => Self::Country,
            "wikidata_id" => Self::WikidataId,
            "occupation" | "occupations" => Self::Occupation,
            _ => {
                return Err(format!(
                    "unknown field {word:?} (known: sitelinks, images, name, country, wikidata_id, occupation)"
                ));
            }
        })
    }
    fn numeric(self) -> bool {
        matches!(self, Self::Sitelinks | Self::Images)
    }
    fn label(self) -> &'static str {
        match self {
            Self::Sitelinks => "sitelinks",
            Self::Images => "images",
            Self::Name => "name",
            Self::Country => "country",
            Self::WikidataId => "wikidata_id",
            Self::Occupation => "occupation",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Op {
    Ge,
    Le,
    Gt,
    Lt,
    Eq,
    Ne,
}

impl Op {
    fn symbol(self) -> &'static str {
        match self {
            Op::Ge => ">=",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Lt => "<",
            Op::Eq => "==",
            Op::Ne => "!=",
        }
    }
    fn negated(self) -> Op {
        match self {
            Op::Ge => Op::Lt,
            Op::Le => Op::Gt,
            Op::Gt => Op::Le,
            Op::Lt => Op::Ge,
            Op::Eq => Op::Ne,
            Op::Ne => Op::Eq,
        }
    }
}

#[derive(Debug)]
pub enum Expr {
    Or(Vec<Expr>),
    And(Vec<Expr>),
    Not(Box<Expr>),
    Compare(Field, Op, String),
    In(Field, Vec<String>),
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Text(String),
    Sym(&'static str),
}

fn tokenize(src: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = src.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '"' || c == '\'' {
            let end = chars[i + 1..]
                .iter()
                .position(|&d| d == c)
                .ok_or("unterminated string")?;
            out.push(Token::Text(chars[i + 1..i + 1 + end].iter().collect()));
            i += end + 2;
        } else if c.is_alphanumeric() || c == '_' || c == '.' || c == '-' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || matches!(chars[i], '_' | '.' | '-'))
            {
                i += 1;
            }
            out.push(Token::Word(chars[start..i].iter().collect()));
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let sym = match two.as_str() {
                ">=" | "<=" | "==" | "!=" | "&&" | "||" => {
                    i += 2;
                    match two.as_str() {
                        ">=" => ">=",
                        "<=" => "<=",
                        "==" => "==",
                        "!=" => "!=",
                        "&&" => "and",
                        _ => "or",
                    }
                }
                _ => {
                    i += 1;
                    match c {
                        '>' => ">",
                        '<' => "<",
                        '=' => "==",
                        '!' => "not",
                        '(' => "(",
                        ')' => ")",
                        '[' => "[",
                        ']' => "]",
                        ',' => ",",
                        _ => return Err(format!("unexpected character {c:?}")),
                    }
                }
            };
            out.push(Token::Sym(sym));
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek_keyword(&self, kw: &str) -> bool {
        match self.tokens.get(self.pos) {
            Some(Token::Word(w)) => w.eq_ignore_ascii_case(kw),
            Some(Token::Sym(s)) => *s == kw,
            _ => false,
        }
    }
    fn eat(&mut self, kw: &str) -> bool {
        let hit = self.peek_keyword(kw);
        if hit {
            self.pos += 1;
        }
        hit
    }
    fn expect(&mut self, kw: &str) -> Result<(), String> {
        if self.eat(kw) {
            Ok(())
        } else {
            Err(format!("expected {kw:?} at token {}", self.pos + 1))
        }
    }
    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn or(&mut self) -> Result<Expr, String> {
        let mut parts = vec![self.and()?];
        while self.eat("or") {
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::Or(parts)
        })
    }
    fn and(&mut self) -> Result<Expr, String> {
        let mut parts = vec![self.unary()?];
        while self.eat("and") {
            parts.push(self.unary()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::And(parts)
        })
    }
    fn unary(&mut self) -> Result<Expr, String> {
        if self.eat("not") {
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        if self.eat("(") {
            let inner = self.or()?;
            self.expect(")")?;
            return Ok(inner);
        }
        let field = match self.next() {
            Some(Token::Word(w)) => Field::parse(&w)?,
            other => return Err(format!("expected a field name, found {other:?}")),
        };
        if self.eat("in") {
            self.expect("[")?;
            let mut values = vec![self.value()?];
            while self.eat(",") {
                values.push(self.value()?);
            }
            self.expect("]")?;
            return Ok(Expr::In(field, values));
        }
        let op = match self.next() {
            Some(Token::Sym(">=")) => Op::Ge,
            Some(Token::Sym("<=")) => Op::Le,
            Some(Token::Sym(">")) => Op::Gt,
            Some(Token::Sym("<")) => Op::Lt,
            Some(Token::Sym("==")) => Op::Eq,
            Some(Token::Sym("!=")) => Op::Ne,
            other => {
                return Err(format!(
                    "expected a comparison after {}, found {other:?}",
                    field.label()
                ));
            }
        };
        let value = self.value()?;
        if field.numeric() && value.parse::<f64>().is_err() {
            return Err(format!(
                "{} compares with numbers, not {value:?}",
                field.label()
            ));
        }
        if !field.numeric() && !matches!(op, Op::Eq | Op::Ne) {
            return Err(format!("{} is text: use ==, != or in", field.label()));
        }
        Ok(Expr::Compare(field, op, value))
    }
    fn value(&mut self) -> Result<String, String> {
        match self.next() {
            Some(Token::Word(w)) | Some(Token::Text(w)) => Ok(w),
            other => Err(format!("expected a value, found {other:?}")),
        }
    }
}

pub fn parse(src: &str) -> Result<Expr, String> {
    let tokens = tokenize(src)?;
    if tokens.is_empty() {
        return Err("empty expression".into());
    }
    let mut p = Parser { tokens, pos: 0 };
    let expr = p.or()?;
    if p.pos < p.tokens.len() {
        return Err(format!(
            "unexpected {:?} at token {}",
            p.tokens[p.pos],
            p.pos + 1
        ));
    }
    Ok(expr)
}

fn text_values(c: &Candidate, field: Field) -> Vec<String> {
    match field {
        Field::Name => vec![c.name.clone()],
        Field::Country => c.country.clone().into_iter().collect(),
        Field::WikidataId => c.wikidata_id.clone().into_iter().collect(),
        Field::Occupation => c.occupations.clone(),
        Field::Sitelinks | Field::Images => vec![],
    }
}

fn number(c: &Candidate, field: Field) -> Option<f64> {
    match field {
        Field::Sitelinks => c.sitelinks.map(f64::from),
        Field::Images => Some(c.image_urls.len() as f64),
        _ => None,
    }
}

fn shown(values: &[String]) -> String {
    match values {
        [] => "none".into(),
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    }
}

impl Expr {
    /// Whether `c` passes, and the comparison that decided it.
    pub fn eval(&self, c: &Candidate) -> (bool, String) {
        match self {
            Expr::Or(parts) => {
                let mut failed = Vec::new();
                for p in parts {
                    let (ok, why) = p.eval(c);
                    if ok {
                        return (true, why);
                    }
                    failed.push(why);
                }
                (false, failed.join(" and "))
            }
            Expr::And(parts) => {
                let mut passed = Vec::new();
                for p in parts {
                    let (ok, why) = p.eval(c);
                    if !ok {
                        return (false, why);
                    }
                    passed.push(why);
                }
                (true, passed.join(" and "))
            }
            Expr::Not(inner) => {
                let (ok, why) = inner.eval(c);
                (!ok, format!("not ({why})"))
            }
            Expr::Compare(field, op, value) if field.numeric() => {
                let Some(actual) = number(c, *field) else {
                    return (false, format!("{} unknown", field.label()));
                };
                let wanted: f64 = value.parse().unwrap_or(f64::NAN);
                let ok = match op {
                    Op::Ge => actual >= wanted,
                    Op::Le => actual <= wanted,
                    Op::Gt => actual > wanted,
                    Op::Lt => actual < wanted,
                    Op::Eq => actual == wanted,
                    Op::Ne => actual != wanted,
                };
                let shown_op = if ok { *op } else { op.negated() };
                (
                    ok,
                    format!("{} {actual} {} {value}", field.label(), shown_op.symbol()),
                )
            }
            Expr::Compare(field, op, value) => {
                let values = text_values(c, *field);
                let any = values.iter().any(|v| v.eq_ignore_ascii_case(value));
                let ok = if *op == Op::Eq { any } else { !any };
                let shown_op = if ok { *op } else { op.negated() };
                (
                    ok,
                    format!(
                        "{} {} {} {value}",
                        field.label(),
                        shown(&values),
                        shown_op.symbol()
                    ),
                )
            }
            Expr::In(field, wanted) => {
                let ok = if field.numeric() {
                    number(c, *field).is_some_and(|n| wanted.iter().any(|w| w.parse() == Ok(n)))
                } else {
                    text_values(c, *field)
                        .iter()
                        .any(|v| wanted.iter().any(|w| w.eq_ignore_ascii_case(v)))
                };
                let actual = match number(c, *field) {
                    Some(n) => n.to_string(),
                    None => shown(&text_values(c, *field)),
                };
                let verb = if ok { "in" } else { "not in" };
                (
                    ok,
                    format!("{} {actual} {verb} [{}]", field.label(), wanted.join(", ")),
                )
            }
        }
    }
}
