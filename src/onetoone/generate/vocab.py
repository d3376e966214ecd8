"""Curated vocabularies for the sample population: names, nicknames, places, products.

Lists are ordered from most to least frequent; the generator weights them with a Zipf-like
curve so that common names (José, María, García, Silva) are shared by many different people,
which is what makes identity resolution hard.
"""

from __future__ import annotations

from dataclasses import dataclass


def _split(text: str) -> list[str]:
    return [item.strip() for item in text.replace("\n", " ").split(",") if item.strip()]


LANGUAGES = ("es", "pt", "en")

# Given names per (language, sex), most frequent first. Compound names are single entries.
GIVEN_NAMES: dict[tuple[str, str], list[str]] = {
    ("es", "M"): _split("""
        José, Juan, Luis, Carlos, Jorge, Miguel, Francisco, Juan Carlos, José Luis, Antonio,
        Alejandro, Manuel, Pedro, Jesús, Javier, Fernando, Ricardo, Roberto, Daniel, Eduardo,
        Sergio, Andrés, Diego, Santiago, Mateo, Sebastián, Martín, Gabriel, Raúl, Héctor,
        Óscar, Rubén, Juan Pablo, José Antonio, Miguel Ángel, Guillermo, Alberto, Arturo,
        Enrique, Mario, Julio, César, Víctor, Hugo, Ignacio, Joaquín, Nicolás, Tomás, Felipe,
        Rodrigo, Gonzalo, Cristian, Pablo, Álvaro, Emilio, Agustín, Facundo, Matías, Benjamín,
        Vicente, Esteban, Iván, Rafael, Adrián, Gustavo, Armando, Alfredo, Ernesto, Salvador,
        Ángel, Juan José, José Manuel, Luis Miguel, Ramón, Marco Antonio, Leonardo, Emiliano,
        Samuel, Lucas, Thiago, Maximiliano, Franco, Bautista, Germán, Mauricio, Hernán, Omar,
        Rolando, Wilson, Edwin, Jhon, Yeison, Anderson, Brayan
    """),
    ("es", "F"): _split("""
        María, Guadalupe, Ana, Rosa, Carmen, María José, Laura, Patricia, Gabriela, Sofía,
        Valentina, Camila, María Fernanda, Daniela, Andrea, Fernanda, Mariana, Lucía, Paula,
        Natalia, Alejandra, Carolina, Claudia, Verónica, Adriana, Silvia, Mónica, Leticia,
        Ana María, Elena, Teresa, Margarita, Josefina, Dolores, Pilar, Beatriz, Julia, Valeria,
        Ximena, Renata, Victoria, Catalina, Florencia, Agustina, Constanza, Javiera, Antonella,
        Martina, Milagros, María Guadalupe, Luz, Gloria, Esperanza, Rocío, Yolanda, Consuelo,
        Concepción, Inés, Raquel, Sandra, Lorena, Paola, Diana, Isabel, Isabella, Rosario,
        Mercedes, Graciela, Susana, Marcela, Francisca, Jimena, Luciana, Micaela, Abril,
        Emilia, Regina, Yesenia, Johana, Leidy, Yuliana, Norma, Irma, Lourdes, Maricela
    """),
    ("pt", "M"): _split("""
        José, João, Antônio, Francisco, Carlos, Paulo, Pedro, Lucas, Luiz, Marcos, Luís,
        Gabriel, Rafael, Daniel, Marcelo, Bruno, Eduardo, Felipe, Raimundo, Rodrigo, João Pedro,
        Manoel, Mateus, André, Fernando, Fábio, Leonardo, Gustavo, Guilherme, Leandro, Tiago,
        José Carlos, Anderson, Ricardo, Márcio, Jorge, Sebastião, Alexandre, Roberto, Edson,
        Diego, Vitor, Sérgio, Cláudio, Matheus, Thiago, Luiz Carlos, Geraldo, Adriano, Luciano,
        Júlio, Renato, Paulo Roberto, Alex, Vinícius, Rogério, Samuel, Ronaldo, Mário, Flávio,
        Carlos Eduardo, Igor, Douglas, Davi, Enzo, Arthur, Heitor, Bernardo, Miguel, Otávio,
        Caio, Henrique, João Victor, Wellington, Washington, Cleiton, Kléber, Jailson, Edvaldo,
        Joaquim, Benedito, Severino, Nelson, Wagner
    """),
    ("pt", "F"): _split("""
        Maria, Ana, Francisca, Antônia, Adriana, Juliana, Márcia, Fernanda, Patrícia, Aline,
        Sandra, Camila, Amanda, Bruna, Jéssica, Letícia, Júlia, Luciana, Vanessa, Mariana,
        Ana Paula, Maria José, Gabriela, Vera, Vitória, Larissa, Cláudia, Beatriz, Luana, Rita,
        Sônia, Renata, Maria Aparecida, Eliane, Josefa, Simone, Natália, Cristina, Carla,
        Débora, Rosângela, Jaqueline, Rosa, Daniela, Aparecida, Marlene, Terezinha, Raimunda,
        Andréia, Fabiana, Lúcia, Raquel, Ângela, Rafaela, Joana, Luzia, Conceição,
        Maria da Conceição, Maria Eduarda, Ana Carolina, Alice, Sophia, Helena, Valentina,
        Laura, Isabela, Manuela, Lívia, Giovanna, Sabrina, Tatiane, Priscila, Carolina, Regina,
        Maria das Graças, Rosimeire, Joelma, Fátima, Heloísa, Lorena, Yasmin
    """),
    ("en", "M"): _split("""
        James, John, Robert, Michael, William, David, Richard, Joseph, Thomas, Charles,
        Christopher, Daniel, Matthew, Anthony, Mark, Steven, Paul, Andrew, Kevin, Brian, George,
        Edward, Ronald, Timothy, Jason, Jeffrey, Ryan, Jacob, Gary, Nicholas, Eric, Jonathan,
        Stephen, Justin, Scott, Brandon, Benjamin, Samuel, Frank, Gregory, Patrick, Alexander,
        Jack, Dennis, Tyler, Aaron
    """),
    ("en", "F"): _split("""
        Mary, Patricia, Jennifer, Linda, Elizabeth, Barbara, Susan, Jessica, Sarah, Karen,
        Lisa, Nancy, Betty, Margaret, Sandra, Ashley, Kimberly, Emily, Donna, Michelle, Carol,
        Amanda, Melissa, Deborah, Stephanie, Rebecca, Sharon, Laura, Cynthia, Katherine, Amy,
        Angela, Brenda, Pamela, Emma, Nicole, Helen, Samantha, Christine, Rachel, Olivia
    """),
}

# Common nicknames (apodos, apelidos) an agent may type or a user may register with.
NICKNAMES: dict[str, list[str]] = {
    "José": ["Pepe", "Zé", "Chepe"], "Francisco": ["Paco", "Pancho", "Chico", "Kiko"],
    "Guadalupe": ["Lupe", "Lupita"], "Jesús": ["Chucho", "Chuy"], "Manuel": ["Manolo"],
    "Ignacio": ["Nacho"], "Alejandro": ["Alex", "Ale"], "Alejandra": ["Ale"],
    "Roberto": ["Beto"], "Alberto": ["Beto"], "Guillermo": ["Memo"], "Enrique": ["Quique"],
    "Eduardo": ["Lalo", "Dudu"], "Gonzalo": ["Chalo"], "Rosario": ["Charo"],
    "Dolores": ["Lola"], "Concepción": ["Concha", "Conchita"], "Mercedes": ["Meche"],
    "Consuelo": ["Chelo"], "Graciela": ["Chela"], "Josefina": ["Pepa", "Fina"],
    "María José": ["Majo"], "María Fernanda": ["Marifer"], "Santiago": ["Santi"],
    "Sebastián": ["Sebas"], "Fernando": ["Fer", "Nando"], "Fernanda": ["Fer", "Nanda"],
    "Daniela": ["Dani"], "Gabriela": ["Gaby", "Gabi"], "Patricia": ["Paty", "Pat"],
    "Antonio": ["Toño"], "Antônio": ["Toninho", "Tonho"], "Luis": ["Lucho"],
    "Rafael": ["Rafa"], "Rafaela": ["Rafa"], "Valentina": ["Vale"], "Catalina": ["Cata"],
    "Carolina": ["Caro", "Carol"], "Cristina": ["Cris"], "Teresa": ["Tere"],
    "Isabel": ["Chabela"], "Javier": ["Javi"], "Beatriz": ["Bia", "Bea"],
    "Guilherme": ["Gui"], "Maria Eduarda": ["Duda"], "Juliana": ["Ju"], "Manuela": ["Manu"],
    "Sebastião": ["Tião"], "Tatiane": ["Tati"], "Priscila": ["Pri"], "Mariana": ["Mari"],
    "Vinícius": ["Vini"], "Aparecida": ["Cida"], "Maria Aparecida": ["Cida"],
    "Josefa": ["Zefa"], "Paulo": ["Paulinho"], "Luciana": ["Lu"],
    "William": ["Bill", "Will"], "Robert": ["Bob", "Rob"], "Richard": ["Rick"],
    "James": ["Jim", "Jimmy"], "Michael": ["Mike"], "Thomas": ["Tom"],
    "Charles": ["Charlie"], "Joseph": ["Joe"], "Christopher": ["Chris"], "Daniel": ["Dani", "Dan"],
    "Matthew": ["Matt"], "Anthony": ["Tony"], "Steven": ["Steve"], "Andrew": ["Andy"],
    "Edward": ["Ed", "Ted"], "Elizabeth": ["Liz", "Beth"], "Margaret": ["Maggie", "Peggy"],
    "Jennifer": ["Jen"], "Katherine": ["Kate", "Kathy"], "Rebecca": ["Becky"],
    "Samantha": ["Sam"], "Kimberly": ["Kim"], "Deborah": ["Debbie"], "Susan": ["Sue"],
}

# Surnames per language. A leading particle (de, da, del, dos, de la) is part of the entry.
SURNAMES: dict[str, list[str]] = {
    "es": _split("""
        García, Rodríguez, Martínez, Hernández, López, González, Pérez, Sánchez, Ramírez,
        Torres, Flores, Rivera, Gómez, Díaz, Cruz, Morales, Reyes, Gutiérrez, Ortiz, Ramos,
        Jiménez, Ruiz, Álvarez, Mendoza, Castillo, Vargas, Romero, Herrera, Medina, Aguilar,
        Moreno, Castro, Vázquez, Rojas, Guzmán, Muñoz, Suárez, Fernández, Silva, Núñez,
        Salazar, Ortega, Delgado, Chávez, Mejía, Soto, Contreras, Guerrero, Rosales, Espinoza,
        Sandoval, Cabrera, Valencia, Figueroa, Domínguez, Navarro, Ríos, Campos, Vega, Cortés,
        Fuentes, Acosta, Carrillo, Peña, Lara, Ibarra, Molina, Cárdenas, Benítez, Maldonado,
        Paredes, Quispe, Mamani, Huamán, Cáceres, Valenzuela, Tapia, Araya, Sepúlveda, Pizarro,
        Bravo, Ospina, Restrepo, Cardona, Londoño, Acuña, Sosa, Giménez, Ferreyra, Luna,
        Juárez, Ponce, Ávila, Orozco, Zúñiga, Salinas, Ochoa, Ayala, Estrada, Montes,
        Villanueva, Robles, Condori, Muñiz, Ibáñez, Echeverría, Peñaloza, Sáenz, Olmos,
        de la Cruz, de León, del Río, de la Fuente, de los Santos, del Valle, de la Rosa,
        Romano, Russo, Ferrari, Gallo
    """),
    "pt": _split("""
        Silva, Santos, Oliveira, Souza, Rodrigues, Ferreira, Alves, Pereira, Lima, Gomes,
        Ribeiro, Carvalho, Almeida, Lopes, Soares, Fernandes, Vieira, Barbosa, Rocha, Dias,
        Nascimento, Andrade, Moreira, Nunes, Marques, Machado, Mendes, Freitas, Cardoso,
        Ramos, Gonçalves, Santana, Teixeira, Araújo, Costa, Martins, Correia, Pinto,
        Cavalcanti, Monteiro, Moura, Campos, Barros, Reis, Castro, Azevedo, Fonseca, Batista,
        Melo, Brito, Sampaio, Guimarães, Magalhães, Peixoto, Assunção, Leão, Simões, Falcão,
        da Silva, dos Santos, de Souza, de Oliveira, da Costa, de Jesus, do Nascimento,
        da Conceição, de Lima, dos Reis, de Almeida
    """),
    "en": _split("""
        Smith, Johnson, Williams, Brown, Jones, Miller, Davis, Wilson, Anderson, Taylor,
        Thomas, Moore, Martin, Jackson, Thompson, White, Harris, Clark, Lewis, Robinson,
        Walker, Young, Allen, King, Wright, Scott, Hill, Green, Adams, Baker, Nelson, Carter,
        Mitchell, Roberts, Turner, Phillips, Campbell, Parker, Evans, Edwards, Collins,
        Stewart, Murphy, Cook, Rogers, Morgan, Cooper, Peterson, Reed, Bailey, Kelly, Howard,
        Ward, Cox, Richardson, Wood, Watson, Brooks, Bennett, Gray, O'Brien, O'Connor
    """),
}

PARTICLES = ("de la ", "de los ", "del ", "de ", "da ", "das ", "do ", "dos ")


def drop_particle(surname: str) -> str:
    """'de la Cruz' -> 'Cruz', 'dos Santos' -> 'Santos' (how people often write them)."""
    for particle in PARTICLES:
        if surname.startswith(particle):
            return surname[len(particle):]
    return surname


@dataclass(frozen=True)
class Country:
    code: str
    weight: float
    # shares of (es, pt, en) surnames; given names follow the surname language mostly
    languages: tuple[float, float, float]
    tax_id_share: float  # share of ERP customers with a tax id on file
    utc_offset_hours: int  # standard offset; Chile and the US observe summer time


COUNTRIES: list[Country] = [
    Country("BR", 0.34, (0.02, 0.95, 0.03), 0.70, -3),
    Country("MX", 0.24, (0.95, 0.01, 0.04), 0.50, -6),
    Country("CO", 0.12, (0.96, 0.01, 0.03), 0.35, -5),
    Country("AR", 0.10, (0.96, 0.01, 0.03), 0.35, -3),
    Country("CL", 0.07, (0.96, 0.01, 0.03), 0.45, -4),
    Country("PE", 0.07, (0.97, 0.01, 0.02), 0.30, -5),
    Country("US", 0.06, (0.30, 0.02, 0.68), 0.00, -5),
]


@dataclass(frozen=True)
class City:
    country: str
    name: str
    region: str
    weight: float
    area: str  # landline area code as dialled after the country code
    postcode_lo: int  # postcode range, formatted per country
    postcode_hi: int


def _cities(country: str, rows: str) -> list[City]:
    out = []
    for line in rows.strip().splitlines():
        name, region, weight, area, lo, hi = [part.strip() for part in line.split("|")]
        out.append(City(country, name, region, float(weight), area, int(lo), int(hi)))
    return out


# name | region | weight | area code | postcode low | postcode high
CITIES: list[City] = (
    _cities("BR", """
        São Paulo | SP | 12 | 11 | 1000000 | 5999999
        Rio de Janeiro | RJ | 6.7 | 21 | 20000000 | 23799999
        Brasília | DF | 3 | 61 | 70000000 | 72799999
        Salvador | BA | 2.9 | 71 | 40000000 | 42499999
        Fortaleza | CE | 2.7 | 85 | 60000000 | 61599999
        Belo Horizonte | MG | 2.5 | 31 | 30000000 | 31999999
        Manaus | AM | 2.2 | 92 | 69000000 | 69099999
        Curitiba | PR | 1.9 | 41 | 80000000 | 82999999
        Recife | PE | 1.6 | 81 | 50000000 | 52999999
        Goiânia | GO | 1.5 | 62 | 74000000 | 74899999
        Belém | PA | 1.5 | 91 | 66000000 | 66999999
        Porto Alegre | RS | 1.5 | 51 | 90000000 | 91999999
        Guarulhos | SP | 1.4 | 11 | 7000000 | 7399999
        Campinas | SP | 1.2 | 19 | 13000000 | 13139999
        São Luís | MA | 1.1 | 98 | 65000000 | 65109999
        Maceió | AL | 1 | 82 | 57000000 | 57099999
        Natal | RN | 0.9 | 84 | 59000000 | 59099999
        Teresina | PI | 0.9 | 86 | 64000000 | 64099999
        João Pessoa | PB | 0.8 | 83 | 58000000 | 58099999
        São José dos Campos | SP | 0.7 | 12 | 12200000 | 12248999
        Ribeirão Preto | SP | 0.7 | 16 | 14000000 | 14114999
        Uberlândia | MG | 0.7 | 34 | 38400000 | 38415999
        Contagem | MG | 0.7 | 31 | 32000000 | 32399999
        Florianópolis | SC | 0.5 | 48 | 88000000 | 88099999
        Joinville | SC | 0.6 | 47 | 89200000 | 89239999
        Santos | SP | 0.4 | 13 | 11000000 | 11099999
        Niterói | RJ | 0.5 | 21 | 24000000 | 24399999
        Londrina | PR | 0.6 | 43 | 86000000 | 86099999
    """)
    + _cities("MX", """
        Ciudad de México | Ciudad de México | 9.2 | 55 | 1000 | 16999
        Guadalajara | Jalisco | 1.4 | 33 | 44100 | 44990
        Monterrey | Nuevo León | 1.1 | 81 | 64000 | 64999
        Puebla | Puebla | 1.6 | 222 | 72000 | 72999
        Tijuana | Baja California | 1.9 | 664 | 22000 | 22999
        León | Guanajuato | 1.7 | 477 | 37000 | 37999
        Zapopan | Jalisco | 1.5 | 33 | 45000 | 45245
        Ecatepec | Estado de México | 1.6 | 55 | 55000 | 55299
        Naucalpan | Estado de México | 0.8 | 55 | 53000 | 53999
        Mérida | Yucatán | 1 | 999 | 97000 | 97399
        Querétaro | Querétaro | 1 | 442 | 76000 | 76249
        San Luis Potosí | San Luis Potosí | 0.9 | 444 | 78000 | 78399
        Aguascalientes | Aguascalientes | 0.9 | 449 | 20000 | 20999
        Toluca | Estado de México | 0.9 | 722 | 50000 | 50299
        Cancún | Quintana Roo | 0.9 | 998 | 77500 | 77599
        Chihuahua | Chihuahua | 0.9 | 614 | 31000 | 31499
        Hermosillo | Sonora | 0.9 | 662 | 83000 | 83299
        Culiacán | Sinaloa | 0.9 | 667 | 80000 | 80399
        Morelia | Michoacán | 0.8 | 443 | 58000 | 58349
        Veracruz | Veracruz | 0.6 | 229 | 91700 | 91999
        Oaxaca de Juárez | Oaxaca | 0.3 | 951 | 68000 | 68299
    """)
    + _cities("CO", """
        Bogotá | Bogotá D.C. | 7.9 | 601 | 110111 | 112041
        Medellín | Antioquia | 2.6 | 604 | 50001 | 50050
        Cali | Valle del Cauca | 2.3 | 602 | 760001 | 760050
        Barranquilla | Atlántico | 1.3 | 605 | 80001 | 80020
        Cartagena | Bolívar | 1 | 605 | 130001 | 130015
        Cúcuta | Norte de Santander | 0.8 | 607 | 540001 | 540006
        Bucaramanga | Santander | 0.6 | 607 | 680001 | 680011
        Soacha | Cundinamarca | 0.7 | 601 | 250051 | 250054
        Ibagué | Tolima | 0.5 | 608 | 730001 | 730006
        Santa Marta | Magdalena | 0.5 | 605 | 470001 | 470004
        Villavicencio | Meta | 0.5 | 608 | 500001 | 500005
        Pereira | Risaralda | 0.5 | 606 | 660001 | 660004
        Manizales | Caldas | 0.4 | 606 | 170001 | 170004
    """)
    + _cities("AR", """
        Buenos Aires | CABA | 3.1 | 11 | 1000 | 1499
        Córdoba | Córdoba | 1.4 | 351 | 5000 | 5020
        Rosario | Santa Fe | 1.3 | 341 | 2000 | 2013
        La Plata | Buenos Aires | 0.8 | 221 | 1900 | 1909
        Mar del Plata | Buenos Aires | 0.6 | 223 | 7600 | 7612
        San Miguel de Tucumán | Tucumán | 0.8 | 381 | 4000 | 4009
        Mendoza | Mendoza | 1 | 261 | 5500 | 5539
        Salta | Salta | 0.6 | 387 | 4400 | 4409
        Santa Fe | Santa Fe | 0.5 | 342 | 3000 | 3009
        Quilmes | Buenos Aires | 0.6 | 11 | 1878 | 1882
        Neuquén | Neuquén | 0.3 | 299 | 8300 | 8309
        Bahía Blanca | Buenos Aires | 0.3 | 291 | 8000 | 8009
    """)
    + _cities("CL", """
        Santiago | Región Metropolitana | 2 | 2 | 8320000 | 8500000
        Puente Alto | Región Metropolitana | 0.6 | 2 | 8150000 | 8160000
        Maipú | Región Metropolitana | 0.5 | 2 | 9250000 | 9260000
        Las Condes | Región Metropolitana | 0.3 | 2 | 7550000 | 7560000
        Providencia | Región Metropolitana | 0.15 | 2 | 7500000 | 7510000
        Antofagasta | Antofagasta | 0.4 | 55 | 1240000 | 1270000
        Viña del Mar | Valparaíso | 0.35 | 32 | 2520000 | 2580000
        Valparaíso | Valparaíso | 0.3 | 32 | 2340000 | 2370000
        Concepción | Biobío | 0.23 | 41 | 4030000 | 4130000
        Temuco | La Araucanía | 0.28 | 45 | 4780000 | 4810000
        La Serena | Coquimbo | 0.24 | 51 | 1700000 | 1720000
        Rancagua | O'Higgins | 0.24 | 72 | 2820000 | 2850000
        Talca | Maule | 0.22 | 71 | 3460000 | 3480000
        Puerto Montt | Los Lagos | 0.24 | 65 | 5480000 | 5510000
        Arica | Arica y Parinacota | 0.22 | 58 | 1000000 | 1030000
    """)
    + _cities("PE", """
        Lima | Lima | 9.7 | 1 | 15001 | 15594
        Callao | Callao | 1 | 1 | 7001 | 7051
        Arequipa | Arequipa | 1.1 | 54 | 4001 | 4019
        Trujillo | La Libertad | 0.9 | 44 | 13001 | 13013
        Chiclayo | Lambayeque | 0.6 | 74 | 14001 | 14013
        Piura | Piura | 0.5 | 73 | 20001 | 20009
        Iquitos | Loreto | 0.5 | 65 | 16001 | 16009
        Cusco | Cusco | 0.45 | 84 | 8001 | 8007
        Huancayo | Junín | 0.4 | 64 | 12001 | 12007
    """)
    + _cities("US", """
        Miami | FL | 3 | 305 | 33101 | 33199
        New York | NY | 3 | 212 | 10001 | 10292
        Houston | TX | 2.3 | 713 | 77001 | 77099
        Los Angeles | CA | 2.3 | 213 | 90001 | 90089
        Orlando | FL | 1 | 407 | 32801 | 32839
        San Antonio | TX | 1 | 210 | 78201 | 78299
        Chicago | IL | 1.5 | 312 | 60601 | 60661
        Dallas | TX | 1 | 214 | 75201 | 75398
    """)
)

# Street names per country: (street type long form, abbreviation) and names.
STREET_TYPES: dict[str, list[tuple[str, str]]] = {
    "BR": [("Rua", "R."), ("Avenida", "Av."), ("Travessa", "Tv."), ("Alameda", "Al.")],
    "MX": [("Calle", "C."), ("Avenida", "Av."), ("Privada", "Priv."), ("Boulevard", "Blvd.")],
    "CO": [("Calle", "Cl."), ("Carrera", "Cra."), ("Avenida", "Av."), ("Transversal", "Tv."),
           ("Diagonal", "Dg.")],
    "AR": [("Avenida", "Av."), ("Calle", "C.")],
    "CL": [("Avenida", "Av."), ("Calle", "C."), ("Pasaje", "Pje.")],
    "PE": [("Avenida", "Av."), ("Jirón", "Jr."), ("Calle", "Ca."), ("Pasaje", "Psje.")],
    "US": [("Street", "St"), ("Avenue", "Ave"), ("Boulevard", "Blvd"), ("Road", "Rd"),
           ("Drive", "Dr")],
}
STREET_TYPE_WEIGHTS: dict[str, list[float]] = {
    "BR": [0.65, 0.25, 0.05, 0.05], "MX": [0.6, 0.3, 0.05, 0.05],
    "CO": [0.4, 0.35, 0.15, 0.05, 0.05], "AR": [0.4, 0.6], "CL": [0.4, 0.45, 0.15],
    "PE": [0.45, 0.3, 0.2, 0.05], "US": [0.4, 0.3, 0.1, 0.1, 0.1],
}

STREET_NAMES: dict[str, list[str]] = {
    "BR": _split("""
        Augusta, Paulista, das Flores, XV de Novembro, Sete de Setembro, Tiradentes,
        Dom Pedro II, Santos Dumont, Getúlio Vargas, Barão de Mauá, Marechal Deodoro,
        São João, Rio Branco, Presidente Vargas, Brigadeiro Faria Lima, da Consolação,
        Oscar Freire, da Liberdade, das Palmeiras, dos Andradas, Duque de Caxias,
        Voluntários da Pátria, Castro Alves, Vinte e Cinco de Março, Dom José Gaspar,
        Marquês de Herval, Padre Anchieta, Santa Catarina, Bela Cintra, Joaquim Nabuco,
        Visconde de Pirajá, Barão do Rio Branco, Coronel Oscar Porto, Frei Caneca
    """),
    "MX": _split("""
        Insurgentes Sur, Reforma, Juárez, Hidalgo, Morelos, Benito Juárez, 5 de Mayo,
        16 de Septiembre, Madero, Revolución, Independencia, Allende, Zaragoza, Guerrero,
        Miguel Hidalgo, Constitución, Emiliano Zapata, Francisco I. Madero, Álvaro Obregón,
        Chapultepec, Universidad, Vallarta, Lázaro Cárdenas, Niños Héroes, Aquiles Serdán,
        Venustiano Carranza, López Mateos, Tlalpan, Patriotismo, Río Churubusco
    """),
    "AR": _split("""
        Corrientes, Santa Fe, Rivadavia, Callao, Córdoba, Belgrano, San Martín, Sarmiento,
        Mitre, Lavalle, Tucumán, Florida, Pueyrredón, Cabildo, Las Heras, 9 de Julio,
        25 de Mayo, Independencia, Leandro N. Alem, Alvear, Juan B. Justo, Entre Ríos,
        Scalabrini Ortiz, Díaz Vélez, Avellaneda
    """),
    "CL": _split("""
        Providencia, Libertador Bernardo O'Higgins, Apoquindo, Vicuña Mackenna,
        Irarrázaval, Los Leones, Pedro de Valdivia, Manuel Montt, Gran Avenida, Matta,
        Tobalaba, Vitacura, Grecia, Santa Rosa, Los Carrera, Arturo Prat, Colón, Balmaceda,
        Independencia, Recoleta, José Pedro Alessandri, Ñuble, Macul
    """),
    "PE": _split("""
        Arequipa, Javier Prado, La Marina, Benavides, Larco, Brasil, Grau, Pardo, Angamos,
        Tacna, Abancay, Universitaria, Túpac Amaru, de la Unión, Las Begonias, Petit Thouars,
        Salaverry, Huaylas, Los Próceres, Ejército, Bolognesi, Ayacucho, San Martín
    """),
    "US": _split("""
        Main, Oak, Pine, Maple, Cedar, Elm, Washington, Lake, Hill, Park, Sunset, Biscayne,
        Flagler, Collins, Ocean, Lincoln, Jefferson, Madison, Franklin, Highland, River
    """),
}
# Neighbourhoods (Mexican colonias) appear in Mexican addresses.
COLONIAS = _split("""
    Centro, Del Valle, Roma Norte, Condesa, Polanco, Narvarte, Americana, Providencia,
    Chapultepec, Las Águilas, Jardines del Bosque, Obrera, Doctores, Juárez, Santa María,
    San Rafael, Lindavista, Coyoacán, Mixcoac, Nápoles
""")

# Free-mail and ISP domains with per-country shares.
EMAIL_DOMAINS: dict[str, list[tuple[str, float]]] = {
    "BR": [("gmail.com", .55), ("hotmail.com", .14), ("yahoo.com.br", .08), ("outlook.com", .08),
           ("uol.com.br", .06), ("bol.com.br", .05), ("terra.com.br", .04)],
    "MX": [("gmail.com", .5), ("hotmail.com", .25), ("outlook.com", .1), ("yahoo.com.mx", .1),
           ("prodigy.net.mx", .05)],
    "CO": [("gmail.com", .55), ("hotmail.com", .25), ("outlook.com", .1), ("yahoo.es", .1)],
    "AR": [("gmail.com", .55), ("hotmail.com", .2), ("yahoo.com.ar", .12),
           ("fibertel.com.ar", .08), ("outlook.com", .05)],
    "CL": [("gmail.com", .6), ("hotmail.com", .2), ("outlook.com", .08), ("yahoo.cl", .07),
           ("vtr.net", .05)],
    "PE": [("gmail.com", .55), ("hotmail.com", .3), ("outlook.com", .08), ("yahoo.es", .07)],
    "US": [("gmail.com", .45), ("yahoo.com", .2), ("outlook.com", .12), ("icloud.com", .13),
           ("aol.com", .1)],
}

# Phone templates per (country, line kind) in five styles, the same order everywhere:
# international pretty, national pretty, national digits, E.164, an alternative local habit.
# {a} area code, {s} subscriber number, {h}/{t} its head and last four digits, {s:i:j} a slice.
PHONE_STYLES = ("international", "national", "digits", "e164", "alternative")
PHONE_TEMPLATES: dict[tuple[str, str], tuple[str, str, str, str, str]] = {
    ("BR", "mobile"): ("+55 {a} {h}-{t}", "({a}) {h}-{t}", "{a}{s}", "+55{a}{s}",
                       "0055 {a} {h} {t}"),
    ("BR", "landline"): ("+55 {a} {h}-{t}", "({a}) {h}-{t}", "{a}{s}", "+55{a}{s}",
                         "0{a} {h}-{t}"),
    ("MX", "mobile"): ("+52 {a} {h} {t}", "{a}-{h}-{t}", "{a}{s}", "+52{a}{s}",
                       "+52 1 {a} {h} {t}"),
    ("MX", "landline"): ("+52 {a} {h} {t}", "{a}-{h}-{t}", "{a}{s}", "+52{a}{s}",
                         "({a}) {h} {t}"),
    ("CO", "mobile"): ("+57 {a} {h} {t}", "{a} {s}", "{a}{s}", "+57{a}{s}", "{a}-{h}-{t}"),
    ("CO", "landline"): ("+57 {a} {s}", "({a}) {h} {t}", "{a}{s}", "+57{a}{s}", "{a} {h}-{t}"),
    ("AR", "mobile"): ("+54 9 {a} {h}-{t}", "0{a} 15-{h}-{t}", "{a}{s}", "+549{a}{s}",
                       "({a}) 15 {h}-{t}"),
    ("AR", "landline"): ("+54 {a} {h}-{t}", "(0{a}) {h}-{t}", "0{a}{s}", "+54{a}{s}",
                         "0{a} {h}-{t}"),
    ("CL", "mobile"): ("+56 {a} {h} {t}", "0{a} {h} {t}", "{a}{s}", "+56{a}{s}",
                       "({a}) {h} {t}"),
    ("CL", "landline"): ("+56 {a} {h} {t}", "({a}) {h} {t}", "{a}{s}", "+56{a}{s}",
                         "0{a} {h} {t}"),
    ("PE", "mobile"): ("+51 {s:0:3} {s:3:6} {s:6:9}", "{s:0:3} {s:3:6} {s:6:9}", "{s}",
                       "+51{s}", "{s:0:3}-{s:3:6}-{s:6:9}"),
    ("PE", "landline"): ("+51 {a} {h} {t}", "(0{a}) {h}-{t}", "0{a}{s}", "+51{a}{s}",
                         "0{a} {h} {t}"),
    ("US", "mobile"): ("+1 {a} {h} {t}", "({a}) {h}-{t}", "{a}{s}", "+1{a}{s}", "{a}-{h}-{t}"),
    ("US", "landline"): ("+1 {a} {h} {t}", "({a}) {h}-{t}", "{a}{s}", "+1{a}{s}",
                         "{a}-{h}-{t}"),
}

# Product catalogue: category -> (share of customer interest, median price, price spread
# (lognormal sigma), margin range, brands, items).
@dataclass(frozen=True)
class Category:
    name: str
    interest: float
    median_price: float
    price_sigma: float
    margin: tuple[float, float]
    brands: tuple[str, ...]
    items: tuple[str, ...]


CATEGORIES: list[Category] = [
    Category("fashion", .16, 35, .6, (.45, .65),
             ("Lumen", "Costa Viva", "Urbano", "Maré", "Alpaca & Co"),
             ("T-shirt", "Jeans", "Dress", "Sneakers", "Jacket", "Sandals", "Hoodie", "Skirt",
              "Polo Shirt", "Backpack")),
    Category("electronics", .14, 180, .9, (.08, .22),
             ("Vexa", "Nortek", "Qubo", "Sonaris", "Elektra"),
             ("Smartphone", "Bluetooth Headphones", "Smart TV 50\"", "Laptop", "Tablet",
              "Power Bank", "Smartwatch", "Wi-Fi Router", "Soundbar", "USB-C Charger")),
    Category("home", .13, 45, .8, (.30, .50),
             ("Casa Nova", "Hogar+", "Lar Doce", "Nido"),
             ("Cookware Set", "Bed Sheets", "Blender", "Coffee Maker", "Towel Set", "Lamp",
              "Air Fryer", "Cushion", "Storage Box", "Knife Set")),
    Category("beauty", .12, 18, .6, (.50, .70),
             ("Bella Flor", "Natura Viva", "Aurora", "Pétala"),
             ("Moisturizer", "Shampoo", "Perfume", "Lipstick", "Sunscreen SPF50",
              "Hair Conditioner", "Face Serum", "Nail Polish")),
    Category("grocery", .10, 6, .6, (.12, .25),
             ("Del Campo", "Sabor Real", "Fazenda", "La Abuela"),
             ("Coffee 500g", "Olive Oil", "Rice 5kg", "Black Beans", "Yerba Mate", "Chocolate",
              "Dulce de Leche", "Pasta", "Tea Box", "Granola")),
    Category("sports", .09, 40, .8, (.30, .45),
             ("Andes", "Pampa Sport", "Tiburón", "Garra"),
             ("Football", "Running Shoes", "Yoga Mat", "Dumbbell Set", "Bike Helmet",
              "Swim Goggles", "Tennis Racket", "Sports Bottle")),
    Category("health", .08, 14, .6, (.30, .50),
             ("Vitalis", "Salud+", "Bem Estar"),
             ("Vitamin C", "Blood Pressure Monitor", "Thermometer", "First Aid Kit",
              "Protein Powder", "Omega 3", "Face Masks 50pk")),
    Category("toys", .07, 25, .7, (.35, .50),
             ("Juguemos", "Brincar", "Kiddo"),
             ("Building Blocks", "Doll", "Board Game", "Puzzle 1000pc", "RC Car",
              "Plush Bear", "Science Kit")),
    Category("books", .06, 15, .4, (.20, .35),
             ("Editorial Sur", "Letras", "Páginas"),
             ("Novel", "Cookbook", "Children's Book", "Biography", "Travel Guide",
              "Self-help Book", "Comic")),
    Category("garden", .05, 30, .8, (.30, .45),
             ("Jardim", "Verde Vivo", "Huerta"),
             ("Garden Hose", "Plant Pot", "Pruning Shears", "Seeds Pack", "Lawn Mower",
              "Outdoor Chair", "Fertilizer")),
]

COUPON_CODES = ("BIENVENIDO10", "PRIMERACOMPRA", "VOLTA10", "FRETEGRATIS", "HOTSALE",
                "BLACKFRIDAY20", "CYBERMONDAY", "NAVIDAD15", "DIADASMAES", "VERANO25",
                "CLIENTEVIP", "ENVIOGRATIS")
